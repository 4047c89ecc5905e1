using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Naming;
using Broker.Contracts.Partitioning;
using Broker.Ingest.Schemas;
using Broker.Ingest.Telemetry;
using Broker.Ingest.Topics;
using Microsoft.Extensions.Options;

namespace Broker.Ingest.Producing;

/// <summary>
/// The produce path behind both APIs: checks a request against the limits and the topic, admits it into
/// the buffer budget (or refuses it: backpressure), puts a W3C traceparent on every record, picks each
/// record's partition, and answers offsets in request order once Storage has confirmed every record.
/// </summary>
public sealed class Producer(
    TopicMetadata topics, StorageAppender appender, ProduceBudget budget, SchemaEnforcer schemas, IngestMetrics metrics,
    TimeProvider time, IOptions<IngestOptions> options, IHostApplicationLifetime lifetime, ILogger<Producer> logger)
{
    public const string TraceParentHeader = RecordHeaderNames.TraceParent;
    private readonly IngestOptions _options = options.Value;
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionAccumulator> _accumulators = new();
    private Func<(string Topic, int Partition), PartitionAccumulator>? _newAccumulator;
    private int _keylessCounter;

    /// <summary>Produces <paramref name="records"/>; with an identity, as one idempotent producer's batches.</summary>
    public async Task<ProducedOffset[]> ProduceAsync(
        string topicName, IReadOnlyList<OutgoingRecord> records, ProducerIdentity? identity, string transport, CancellationToken cancellationToken) =>
        await await StartAsync(topicName, records, identity, transport, cancellationToken);

    /// <summary>
    /// Checks and admits the request and puts its records in their partitions' queues; answers the task of
    /// their offsets. Callers that start requests one after another in a given order (a gRPC stream) get
    /// their records into each partition in that order, however the confirmations interleave.
    /// </summary>
    public async ValueTask<Task<ProducedOffset[]>> StartAsync(
        string topicName, IReadOnlyList<OutgoingRecord> records, ProducerIdentity? identity, string transport, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var activity = IngestTelemetry.Source.StartActivity($"publish {topicName}", ActivityKind.Producer);
        activity?.SetTag("messaging.destination.name", topicName);
        activity?.SetTag("messaging.batch.message_count", records.Count);
        long bytes;
        try
        {
            // No topic has a name the rules refuse: said as such, without asking Storage.
            if (Names.Check(topicName) is { } nameError)
            {
                throw new ProduceException(ProduceError.InvalidArgument, nameError);
            }
            bytes = Check(records);
            var topic = await topics.FindAsync(topicName, cancellationToken)
                ?? throw new ProduceException(ProduceError.TopicNotFound, $"Topic '{topicName}' does not exist.");
            CheckPartitions(topic, records);
            if (topic.SchemaSubject is { } subject)
            {
                await schemas.CheckAsync(subject, records, cancellationToken);
            }
            if (!budget.TryReserve(bytes))
            {
                throw new ProduceException(ProduceError.Backpressure,
                    $"Ingest is holding {budget.UsedBytes} bytes not yet confirmed by Storage (limit Ingest:MaxBufferedBytes = {_options.MaxBufferedBytes}); retry after {_options.RetryAfterSeconds} s.");
            }
            var traceParent = Encoding.ASCII.GetBytes(TraceParent(activity));
            var confirmed = identity is null
                ? ProduceBatched(topic, records, traceParent)
                : ProduceIdempotentAsync(topic, records, identity, traceParent, cancellationToken);
            return CompleteAsync(confirmed, topicName, transport, records.Count, bytes, started, activity);
        }
        catch (ProduceException ex)
        {
            Refused(ex, topicName, transport, activity);
            activity?.Dispose();
            throw;
        }
    }

    private async Task<ProducedOffset[]> CompleteAsync(
        Task<ProducedOffset[]> confirmed, string topicName, string transport, int count, long bytes, long started, Activity? activity)
    {
        try
        {
            var offsets = await confirmed;
            metrics.Published(topicName, transport, count, bytes, Stopwatch.GetElapsedTime(started));
            return offsets;
        }
        catch (ProduceException ex)
        {
            Refused(ex, topicName, transport, activity);
            throw;
        }
        finally
        {
            budget.Release(bytes);
            activity?.Dispose();
        }
    }

    private void Refused(ProduceException ex, string topicName, string transport, Activity? activity)
    {
        metrics.Rejected(topicName, transport, ex.Error);
        activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
        if (ex.Error == ProduceError.TopicNotFound)
        {
            topics.Forget(topicName);
        }
    }

    /// <summary>
    /// The producer id an HTTP Idempotency-Key stands for: a retry with the same key is the same producer
    /// sending the same sequences, so Storage answers it with the first attempt's offsets, on any Ingest
    /// instance, for as long as Storage keeps producer state (Storage:ProducerStateTtlHours).
    /// </summary>
    public static ProducerIdentity IdentityForKey(string topic, string idempotencyKey)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(topic + "\n" + idempotencyKey));
        return new ProducerIdentity(BinaryPrimitives.ReadInt64LittleEndian(hash) & long.MaxValue, 0);
    }

    private long Check(IReadOnlyList<OutgoingRecord> records)
    {
        if (records.Count == 0)
        {
            throw new ProduceException(ProduceError.InvalidArgument, "A produce request needs at least one record.");
        }
        if (records.Count > _options.MaxRecordsPerRequest)
        {
            throw new ProduceException(ProduceError.InvalidArgument,
                $"A request holds at most {_options.MaxRecordsPerRequest} records (Ingest:MaxRecordsPerRequest); this one has {records.Count}.");
        }
        long total = 0;
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var size = record.Size;
            if (size > _options.MaxRecordBytes)
            {
                throw new ProduceException(ProduceError.InvalidArgument,
                    $"Record {i} is {size} bytes; the limit (Ingest:MaxRecordBytes) is {_options.MaxRecordBytes}.");
            }
            if (record.Headers.Count > _options.MaxHeadersPerRecord)
            {
                throw new ProduceException(ProduceError.InvalidArgument,
                    $"Record {i} has {record.Headers.Count} headers; the limit (Ingest:MaxHeadersPerRecord) is {_options.MaxHeadersPerRecord}.");
            }
            foreach (var header in record.Headers)
            {
                if (string.IsNullOrEmpty(header.Name))
                {
                    throw new ProduceException(ProduceError.InvalidArgument, $"Record {i} has a header with an empty name.");
                }
            }
            total += size;
        }
        if (total > _options.MaxRequestBytes)
        {
            throw new ProduceException(ProduceError.RequestTooLarge,
                $"The request's records are {total} bytes; the limit (Ingest:MaxRequestBytes) is {_options.MaxRequestBytes}.");
        }
        return total;
    }

    private static void CheckPartitions(TopicInfo topic, IReadOnlyList<OutgoingRecord> records)
    {
        for (var i = 0; i < records.Count; i++)
        {
            if (records[i].Partition is { } p && (p < 0 || p >= topic.Partitions))
            {
                throw new ProduceException(ProduceError.InvalidArgument,
                    $"Record {i} names partition {p}; topic '{topic.Name}' has partitions 0 to {topic.Partitions - 1}.");
            }
        }
    }

    private Task<ProducedOffset[]> ProduceBatched(TopicInfo topic, IReadOnlyList<OutgoingRecord> records, byte[] traceParent)
    {
        var pending = new PendingProduce(records, traceParent, time.GetUtcNow().ToUnixTimeMilliseconds());
        // Keyless records of one request stick to one partition (one batch), the next request moves on.
        var keyless = (int)((uint)Interlocked.Increment(ref _keylessCounter) % (uint)topic.Partitions);
        for (var i = 0; i < records.Count; i++)
        {
            Enqueue(topic.Name, PartitionOf(records[i], topic.Partitions, keyless), pending, i);
        }
        return pending.Task;
    }

    private async Task<ProducedOffset[]> ProduceIdempotentAsync(
        TopicInfo topic, IReadOnlyList<OutgoingRecord> records, ProducerIdentity identity, byte[] traceParent, CancellationToken cancellationToken)
    {
        // Deterministic placement, so a retry sends the same batches with the same sequences.
        var keyless = (int)((ulong)identity.ProducerId % (ulong)topic.Partitions);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var byPartition = new SortedDictionary<int, List<int>>();
        for (var i = 0; i < records.Count; i++)
        {
            var partition = PartitionOf(records[i], topic.Partitions, keyless);
            if (!byPartition.TryGetValue(partition, out var indexes))
            {
                byPartition[partition] = indexes = [];
            }
            indexes.Add(i);
        }
        var offsets = new ProducedOffset[records.Count];
        await Task.WhenAll(byPartition.Select(async group =>
        {
            using var builder = new RecordBatchBuilder();
            foreach (var i in group.Value)
            {
                var record = records[i];
                builder.Add(record.Key, record.Value.Span, record.Headers, TraceHeaderFor(record, traceParent), record.Timestamp ?? now);
            }
            var baseOffset = await appender.AppendAsync(topic.Name, group.Key,
                builder.BuildInPlace(topic.Compression, identity.ProducerId, identity.BaseSequence), cancellationToken);
            for (var n = 0; n < group.Value.Count; n++)
            {
                offsets[group.Value[n]] = new ProducedOffset(group.Key, baseOffset + n);
            }
        }));
        return offsets;
    }

    private static int PartitionOf(in OutgoingRecord record, int partitions, int keyless) =>
        record.Partition ?? (record.Key is { } key ? KafkaPartitioner.PartitionForKey(key.Span, partitions) : keyless);

    /// <summary>Hands a record to its partition's accumulator; one that has just retired is replaced.</summary>
    private void Enqueue(string topic, int partition, PendingProduce pending, int index)
    {
        while (true)
        {
            var accumulator = _accumulators.GetOrAdd((topic, partition), _newAccumulator ??= CreateAccumulator);
            if (accumulator.TryAdd(pending, index))
            {
                return;
            }
            _accumulators.TryRemove(new KeyValuePair<(string, int), PartitionAccumulator>((topic, partition), accumulator));
        }
    }

    /// <summary>The partitions with an accumulator now (idle ones are let go).</summary>
    internal int Accumulators => _accumulators.Count;

    private PartitionAccumulator CreateAccumulator((string Topic, int Partition) key) => new(
        key.Topic, key.Partition, () => topics.LastKnownCompression(key.Topic),
        appender, _options, time, logger, retired => _accumulators.TryRemove(new KeyValuePair<(string, int), PartitionAccumulator>(key, retired)),
        lifetime.ApplicationStopping);

    /// <summary>The caller's trace when there is one (the activity continues it), else a new one.</summary>
    private static string TraceParent(Activity? activity)
    {
        if (activity is not null && activity.IdFormat == ActivityIdFormat.W3C)
        {
            return activity.Id!;
        }
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } current)
        {
            return current.Id!;
        }
        return $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01";
    }

    /// <summary>The traceparent header to add to a record: none (default) when the producer set its own.</summary>
    internal static RecordHeader TraceHeaderFor(in OutgoingRecord record, byte[] traceParent)
    {
        var headers = record.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            if (headers[i].Name == TraceParentHeader)
            {
                return default;
            }
        }
        return new RecordHeader(TraceParentHeader, traceParent);
    }
}
