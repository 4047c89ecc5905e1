using Broker.Client.Producing;

namespace Broker.Client.Consuming;

/// <summary>A record delivered to a consumer; ack it when it is processed, nack it when it failed.</summary>
/// <typeparam name="TKey">The key's type.</typeparam>
/// <typeparam name="TValue">The value's type.</typeparam>
public sealed class ConsumedMessage<TKey, TValue>
{
    internal ConsumedMessage(TopicSubscription subscription, string deliveryId, int generation)
    {
        Subscription = subscription;
        DeliveryId = deliveryId;
        Generation = generation;
    }

    internal TopicSubscription Subscription { get; }

    /// <summary>The stream it came on; one from an earlier stream is delivered again and skipped.</summary>
    internal int Generation { get; }

    internal bool Stale => Generation != Subscription.Generation;

    /// <summary>What an ack or nack of this delivery names.</summary>
    public string DeliveryId { get; }

    /// <summary>The record's topic.</summary>
    public required string Topic { get; init; }

    /// <summary>The record's partition.</summary>
    public required int Partition { get; init; }

    /// <summary>The record's offset in its partition.</summary>
    public required long Offset { get; init; }

    /// <summary>The key; default when the record has none.</summary>
    public required TKey? Key { get; init; }

    /// <summary>The value.</summary>
    public required TValue Value { get; init; }

    /// <summary>The record's headers.</summary>
    public required MessageHeaders Headers { get; init; }

    /// <summary>The record's time.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>1 on the first delivery, then 2, 3, … for redeliveries.</summary>
    public required int Attempt { get; init; }
}
