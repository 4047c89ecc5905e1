using Broker.Client.Admin;
using Broker.Client.Consuming;
using Broker.Client.Producing;
using Broker.Client.Serialization;

namespace Broker.Client.Aspire;

/// <summary>What DI hands out for one broker: its options, producers and consumers made on demand, and an admin client.</summary>
public sealed class BrokerClientFactory(BrokerClientOptions options) : IDisposable
{
    private readonly Lazy<BrokerAdminClient> _admin = new(() => new BrokerAdminClient(options));

    /// <summary>Where the broker is and who the client is.</summary>
    public BrokerClientOptions Options { get; } = options;

    /// <summary>The broker's admin client (one, shared).</summary>
    public BrokerAdminClient Admin => _admin.Value;

    /// <summary>A new producer; the caller disposes it (one per application is the rule: it is thread-safe).</summary>
    public BrokerProducer<TKey, TValue> CreateProducer<TKey, TValue>(ProducerOptions? producer = null, ISerializer<TKey>? keySerializer = null,
        ISerializer<TValue>? valueSerializer = null) => new(Options, producer, keySerializer, valueSerializer);

    /// <summary>Joins <paramref name="group"/> on <paramref name="topics"/>; the caller disposes the consumer to leave.</summary>
    public BrokerConsumer<TKey, TValue> Subscribe<TKey, TValue>(string group, IEnumerable<string> topics, ConsumerOptions? consumer = null,
        IDeserializer<TKey>? keyDeserializer = null, IDeserializer<TValue>? valueDeserializer = null) =>
        new(Options, group, topics, consumer, keyDeserializer, valueDeserializer);

    /// <summary>Closes the admin client's connections.</summary>
    public void Dispose()
    {
        if (_admin.IsValueCreated)
        {
            _admin.Value.Dispose();
        }
    }
}
