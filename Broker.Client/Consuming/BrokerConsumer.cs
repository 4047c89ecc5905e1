using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Broker.Client.Connection;
using Broker.Client.Producing;
using Broker.Client.Serialization;
using Broker.Client.Telemetry;
using Broker.Contracts.Batches;
using Broker.Contracts.Delivery;

namespace Broker.Client.Consuming;

/// <summary>
/// One member of a consumer group over Delivery's gRPC Subscribe stream (one per topic). Read its records with
/// <see cref="ConsumeAsync"/> and ack or nack each, or hand them to <see cref="RunAsync"/>, which acks what a handler
/// processed and nacks what it threw on. Disposing it leaves the group: records not acked go to its other members.
/// </summary>
/// <typeparam name="TKey">The keys' type (<c>byte[]</c> and <c>string</c> as they are; other types as JSON unless a deserializer is given).</typeparam>
/// <typeparam name="TValue">The values' type, likewise.</typeparam>
public sealed class BrokerConsumer<TKey, TValue> : IAsyncDisposable
{
    private readonly BrokerConnection _connection;
    private readonly IDeserializer<TKey> _keys;
    private readonly IDeserializer<TValue> _values;
    private readonly Channel<ConsumedMessage<TKey, TValue>> _messages;
    private readonly List<TopicSubscription> _subscriptions = [];
    private int _consuming;
    private bool _disposed;

    /// <summary>Joins <paramref name="group"/> on each of <paramref name="topics"/>; records start arriving at once.</summary>
    /// <param name="client">Where the broker is (DeliveryGrpc is needed) and the token.</param>
    /// <param name="group">The consumer group: its members share the topics' partitions, and it keeps their committed offsets.</param>
    /// <param name="topics">The topics to read, one or more.</param>
    /// <param name="options">Mode, start position, window; the defaults when null.</param>
    /// <param name="keyDeserializer">The keys' deserializer; null: the default for <typeparamref name="TKey"/>.</param>
    /// <param name="valueDeserializer">The values' deserializer; null: the default for <typeparamref name="TValue"/>.</param>
    /// <exception cref="ArgumentException">The group or a topic is empty, or no topic is given.</exception>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The reflection-based JSON default applies only when no deserializer is given.")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The reflection-based JSON default applies only when no deserializer is given.")]
    public BrokerConsumer(BrokerClientOptions client, string group, IEnumerable<string> topics, ConsumerOptions? options = null,
        IDeserializer<TKey>? keyDeserializer = null, IDeserializer<TValue>? valueDeserializer = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentNullException.ThrowIfNull(topics);
        var names = topics.ToList();
        if (names.Count == 0 || names.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("A consumer reads one or more topics, each named.", nameof(topics));
        }
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
        {
            throw new ArgumentException("A topic is named twice.", nameof(topics));
        }
        options ??= new ConsumerOptions();
        options.Validate();
        Group = group;
        _keys = keyDeserializer ?? Deserializers.Default<TKey>();
        _values = valueDeserializer ?? Deserializers.Default<TValue>();
        // Holds what the streams' windows let through, bounded by them too: a stream that reconnected may leave records
        // of its old stream here (skipped when read), and a full channel holds the streams back instead of growing.
        _messages = Channel.CreateBounded<ConsumedMessage<TKey, TValue>>(new BoundedChannelOptions(Math.Max(1, options.Window) * names.Count)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = false,
        });
        _connection = new BrokerConnection(client);
        var delivery = new DeliveryService.DeliveryServiceClient(_connection.Channel(BrokerClientOptions.Required(client.DeliveryGrpc, "DeliveryGrpc")));
        foreach (var topic in names)
        {
            var subscribe = new Subscribe
            {
                Group = group,
                Topic = topic,
                Window = options.Window,
                Mode = options.Mode == ConsumeMode.Ordered ? DeliveryMode.Ordered : DeliveryMode.Concurrent,
                Start = options.Start == StartPosition.Latest ? Contracts.Delivery.StartPosition.Latest : Contracts.Delivery.StartPosition.Earliest,
                AckTimeoutMs = options.AckTimeout is { } timeout ? (int)timeout.TotalMilliseconds : 0,
                ConsumerName = options.ConsumerName ?? "",
            };
            _subscriptions.Add(new TopicSubscription(delivery, subscribe, OnRecordAsync, OnFatal, TimeProvider.System));
        }
        foreach (var subscription in _subscriptions)
        {
            subscription.Start();
        }
    }

    /// <summary>The consumer group.</summary>
    public string Group { get; }

    /// <summary>Each topic's partitions this member holds now.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Assignment => _subscriptions.ToDictionary(s => s.Topic, s => s.Partitions, StringComparer.Ordinal);

    /// <summary>
    /// The records as they arrive, until <paramref name="cancellationToken"/> is cancelled or the consumer is disposed.
    /// Ack or nack each one; one not acked within the ack timeout is delivered again.
    /// </summary>
    /// <exception cref="ConsumeException">Delivery refused a subscription (no such topic, a bad setting, no read right).</exception>
    public async IAsyncEnumerable<ConsumedMessage<TKey, TValue>> ConsumeAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _consuming, 1) == 1)
        {
            throw new InvalidOperationException("A consumer is read by one loop at a time (RunAsync takes a concurrency instead).");
        }
        try
        {
            while (await _messages.Reader.WaitToReadAsync(cancellationToken))
            {
                while (_messages.Reader.TryRead(out var message))
                {
                    if (!message.Stale)
                    {
                        yield return message;
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _consuming, 0);
        }
    }

    /// <summary>
    /// Tells the group the record is processed: its offset may be committed, and it is not delivered again. Acks are
    /// gathered and sent together as the stream takes them; the task does not wait for that write, so a loop that awaits
    /// each ack is not slowed by it (an ack lost with a broken stream only means the record is delivered again).
    /// </summary>
    public Task AckAsync(ConsumedMessage<TKey, TValue> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Subscription.AckAsync(message.DeliveryId);
    }

    /// <summary>
    /// Tells the group processing failed: the record is delivered again after the topic's retry delay, or, past its
    /// attempts, goes to the dead-letter topic with <paramref name="error"/> in its headers.
    /// </summary>
    public Task NackAsync(ConsumedMessage<TKey, TValue> message, string error)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(error);
        return message.Subscription.NackAsync(message.DeliveryId, error);
    }

    /// <summary>
    /// Tells the group the record is still being worked on: its ack deadline moves to now plus the ack timeout, so it is
    /// not delivered again meanwhile. Call it more often than the ack timeout for work that takes longer.
    /// </summary>
    public Task ExtendAsync(ConsumedMessage<TKey, TValue> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Subscription.ExtendAsync(message.DeliveryId);
    }

    /// <summary>
    /// Runs <paramref name="handler"/> on every record, <paramref name="concurrency"/> at a time, until
    /// <paramref name="cancellationToken"/> is cancelled: acks each record it returns from, nacks (with the exception's
    /// message) each it throws on. Each call runs in a <c>process {topic}</c> span continuing the producer's trace.
    /// </summary>
    public async Task RunAsync(Func<ConsumedMessage<TKey, TValue>, CancellationToken, ValueTask> handler, int concurrency = 1, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        if (Interlocked.Exchange(ref _consuming, 1) == 1)
        {
            throw new InvalidOperationException("A consumer is read by one loop at a time.");
        }
        try
        {
            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => WorkAsync(handler, cancellationToken), cancellationToken)).ToArray();
            try
            {
                await Task.WhenAll(workers);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
        finally
        {
            Volatile.Write(ref _consuming, 0);
        }
    }

    private async Task WorkAsync(Func<ConsumedMessage<TKey, TValue>, CancellationToken, ValueTask> handler, CancellationToken cancellationToken)
    {
        while (await _messages.Reader.WaitToReadAsync(cancellationToken))
        {
            while (_messages.Reader.TryRead(out var message))
            {
                if (message.Stale)
                {
                    continue; // its stream is gone: Delivery delivers it again on the new one
                }
                using var activity = ClientTelemetry.StartProcess(message.Topic, Group, message.Headers.GetString(RecordHeaderNames.TraceParent),
                    message.Partition, message.Offset, message.Attempt);
                var started = Stopwatch.GetTimestamp();
                var tags = new TagList { { "messaging.system", ClientTelemetry.System }, { "messaging.destination.name", message.Topic }, { "messaging.consumer.group.name", Group } };
                try
                {
                    await handler(message, cancellationToken);
                    await AckAsync(message);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Stopping mid-record: not acked, so delivered again.
                    throw;
                }
                catch (Exception ex)
                {
                    activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
                    activity?.SetTag("error.type", ex.GetType().FullName);
                    tags.Add("error.type", ex.GetType().FullName);
                    await NackAsync(message, $"{ex.GetType().Name}: {ex.Message}");
                }
                ClientTelemetry.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            }
        }
    }

    /// <summary>Leaves the group: acks written so far are sent, the streams end, and records not acked go to the group's other members.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var subscription in _subscriptions)
        {
            await subscription.DisposeAsync();
        }
        _messages.Writer.TryComplete();
        _connection.Dispose();
    }

    private ValueTask OnRecordAsync(DeliveredRecord record, TopicSubscription subscription, CancellationToken cancellationToken)
    {
        var headers = new MessageHeaders();
        foreach (var header in record.Headers)
        {
            headers.Add(header.Name, header.Value.ToByteArray());
        }
        TKey? key;
        TValue value;
        try
        {
            key = record.HasKey ? _keys.Deserialize(record.Key.Span, false, new SerializationContext(subscription.Topic, MessageComponent.Key)) : default;
            value = _values.Deserialize(record.Value.Span, false, new SerializationContext(subscription.Topic, MessageComponent.Value));
        }
        catch (Exception ex)
        {
            // A record this consumer cannot read is nacked, not handed out: after the topic's attempts it waits in the
            // dead-letter topic with the reason, and the records after it go on.
            _ = subscription.NackAsync(record.DeliveryId, $"{subscription.Topic}/{record.Partition}@{record.Offset} could not be deserialized: {ex.Message}");
            return ValueTask.CompletedTask;
        }
        var message = new ConsumedMessage<TKey, TValue>(subscription, record.DeliveryId, subscription.Generation)
        {
            Topic = subscription.Topic,
            Partition = record.Partition,
            Offset = record.Offset,
            Key = key,
            Value = value,
            Headers = headers,
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampMs),
            Attempt = record.Attempt,
        };
        ClientTelemetry.ConsumedMessages.Add(1, new TagList { { "messaging.system", ClientTelemetry.System }, { "messaging.destination.name", subscription.Topic }, { "messaging.consumer.group.name", Group } });
        return _messages.Writer.WriteAsync(message, cancellationToken);
    }

    private void OnFatal(Exception error) => _messages.Writer.TryComplete(error);
}
