using System.Diagnostics;
using Broker.Client.Connection;
using Broker.Client.Serialization;
using Broker.Client.Telemetry;
using Broker.Contracts.Batches;

namespace Broker.Client.Producing;

/// <summary>
/// Produces records to the broker over Ingest's gRPC produce stream: batched per partition, idempotent by default
/// (retried batches are written once and in order), retried on transient errors, bounded in memory and in flight.
/// Thread-safe: one producer per application serves every thread. Dispose it to send and confirm what is pending.
/// </summary>
/// <typeparam name="TKey">The keys' type (<c>byte[]</c> and <c>string</c> as they are; other types as JSON unless a serializer is given).</typeparam>
/// <typeparam name="TValue">The values' type, likewise.</typeparam>
public sealed class BrokerProducer<TKey, TValue> : IAsyncDisposable
{
    private readonly BrokerConnection _connection;
    private readonly ProducerEngine _engine;
    private readonly ISerializer<TKey> _keys;
    private readonly ISerializer<TValue> _values;

    /// <summary>A producer of the broker <paramref name="client"/> names.</summary>
    /// <param name="client">Where the broker is (Storage and IngestGrpc are needed) and the token.</param>
    /// <param name="options">Batching, bounds and retries; Kafka's defaults when null.</param>
    /// <param name="keySerializer">The keys' serializer; null: the default for <typeparamref name="TKey"/>.</param>
    /// <param name="valueSerializer">The values' serializer; null: the default for <typeparamref name="TValue"/>.</param>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The reflection-based JSON default applies only when no serializer is given.")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The reflection-based JSON default applies only when no serializer is given.")]
    public BrokerProducer(BrokerClientOptions client, ProducerOptions? options = null, ISerializer<TKey>? keySerializer = null, ISerializer<TValue>? valueSerializer = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _keys = keySerializer ?? Serializers.Default<TKey>();
        _values = valueSerializer ?? Serializers.Default<TValue>();
        _connection = new BrokerConnection(client);
        try
        {
            _engine = new ProducerEngine(_connection, options ?? new ProducerOptions());
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>Produces one record and returns where it is in the log once the broker has confirmed it.</summary>
    /// <exception cref="ArgumentException">The topic is empty.</exception>
    /// <exception cref="ProduceException">The broker refused the record, or it was not confirmed in time.</exception>
    public Task<DeliveryResult> ProduceAsync(string topic, TKey? key, TValue value, MessageHeaders? headers = null, CancellationToken cancellationToken = default) =>
        ProduceAsync(topic, new Message<TKey, TValue> { Key = key, Value = value, Headers = headers }, cancellationToken);

    /// <summary>Produces one record and returns where it is in the log once the broker has confirmed it.</summary>
    /// <exception cref="ArgumentException">The topic is empty or the partition negative.</exception>
    /// <exception cref="ProduceException">The broker refused the record, or it was not confirmed in time.</exception>
    public async Task<DeliveryResult> ProduceAsync(string topic, Message<TKey, TValue> message, CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletion(topic, ClientTelemetry.StartSend(topic));
        await EnqueueAsync(topic, message, completion, wait: true, cancellationToken);
        return await completion.Task;
    }

    /// <summary>
    /// Produces one record without waiting: <paramref name="onDelivered"/> (if given) learns where it went, or why it
    /// did not, on a thread-pool thread. Records of one partition are reported in order.
    /// </summary>
    /// <exception cref="ProduceException">The producer's buffer is full (<see cref="ProduceError.QueueFull"/>).</exception>
    public void Produce(string topic, Message<TKey, TValue> message, Action<DeliveryReport>? onDelivered = null)
    {
        var completion = new CallbackCompletion(topic, ClientTelemetry.StartSend(topic), onDelivered);
        var enqueued = EnqueueAsync(topic, message, completion, wait: false, CancellationToken.None);
        if (!enqueued.IsCompleted)
        {
            // Waiting for the topic's partition count: the record goes on when it is known, or reports why not.
            _ = ReportFailureAsync(enqueued, completion);
            return;
        }
        enqueued.GetAwaiter().GetResult();
    }

    /// <summary>Sends every batch now and waits until every record produced so far is confirmed or has failed.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _engine.FlushAsync(cancellationToken);

    /// <summary>Sends and confirms what is pending (within the delivery timeout), then closes the stream.</summary>
    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        _connection.Dispose();
    }

    private ValueTask EnqueueAsync(string topic, Message<TKey, TValue> message, Completion completion, bool wait, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(message);
        if (message.Partition is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(message), message.Partition, "A message's partition is 0 or more.");
        }
        byte[]? key;
        byte[] value;
        try
        {
            key = message.Key is null ? null : _keys.Serialize(message.Key, new SerializationContext(topic, MessageComponent.Key));
            value = _values.Serialize(message.Value, new SerializationContext(topic, MessageComponent.Value)) ?? [];
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            completion.Activity?.Dispose();
            throw new ArgumentException($"The message's key or value could not be serialized: {ex.Message}", nameof(message), ex);
        }
        var headers = message.Headers;
        if (completion.Activity is { } activity)
        {
            headers = [.. headers ?? [], new(RecordHeaderNames.TraceParent, System.Text.Encoding.ASCII.GetBytes(activity.Id!))];
        }
        return _engine.EnqueueAsync(topic, message.Partition, key, value, headers, message.Timestamp, completion, wait, cancellationToken);
    }

    private static async Task ReportFailureAsync(ValueTask enqueued, Completion completion)
    {
        try
        {
            await enqueued;
        }
        catch (Exception ex)
        {
            completion.Complete(new DeliveryReport(default, ex as ProduceException ?? new ProduceException(ProduceError.InvalidArgument, ex.Message, ex)));
        }
    }

    /// <summary>One record's span and clock; what it reports to.</summary>
    private abstract class Completion(string topic, Activity? activity) : IRecordCompletion
    {
        private readonly long _started = Stopwatch.GetTimestamp();

        public Activity? Activity { get; } = activity;

        public void Complete(DeliveryReport report)
        {
            var outcome = report.Error is null ? "ok" : report.Error.Error.ToString();
            // Per record, so only when something listens: a producer nobody measures pays nothing for it.
            if (ClientTelemetry.SentMessages.Enabled || ClientTelemetry.OperationDuration.Enabled)
            {
                var tags = new TagList { { "messaging.system", ClientTelemetry.System }, { "messaging.destination.name", topic }, { "messaging.operation.name", "send" } };
                if (report.Error is not null)
                {
                    tags.Add("error.type", outcome);
                }
                ClientTelemetry.SentMessages.Add(1, tags);
                ClientTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
            }
            if (Activity is { } activity)
            {
                if (report.Error is { } error)
                {
                    activity.SetStatus(ActivityStatusCode.Error, error.Message);
                    activity.SetTag("error.type", outcome);
                }
                else
                {
                    activity.SetTag("messaging.destination.partition.id", report.Result.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    activity.SetTag("messaging.kafka.offset", report.Result.Offset);
                }
                activity.Dispose();
            }
            Report(report);
        }

        protected abstract void Report(DeliveryReport report);
    }

    private sealed class TaskCompletion(string topic, Activity? activity) : Completion(topic, activity)
    {
        private readonly TaskCompletionSource<DeliveryResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<DeliveryResult> Task => _result.Task;

        protected override void Report(DeliveryReport report)
        {
            if (report.Error is { } error)
            {
                _result.TrySetException(error);
            }
            else
            {
                _result.TrySetResult(report.Result);
            }
        }
    }

    private sealed class CallbackCompletion(string topic, Activity? activity, Action<DeliveryReport>? callback) : Completion(topic, activity)
    {
        protected override void Report(DeliveryReport report)
        {
            if (callback is null)
            {
                return;
            }
            try
            {
                callback(report);
            }
            catch (Exception)
            {
                // A callback's own failure is its own: it must not stop other records' reports.
            }
        }
    }
}
