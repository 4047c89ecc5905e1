using System.Diagnostics;
using Broker.Contracts.Batches;
using Broker.Storage.HotTier;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Tiering;
using Broker.Storage.Topics;
using Broker.Storage.Waiting;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Log;

/// <summary>
/// The log as the APIs see it: checks every batch before it is written (size, framing, CRC, every
/// record), applies the topic's compression, appends through the hot tier, and serves reads that start
/// exactly at the asked offset from whichever tier holds it (below the hot tier's start, the cold tier's
/// segments), waiting for new data when asked to.
/// </summary>
public sealed class PartitionLog(
    TopicRegistry topics, IHotTier hotTier, AppendSignals signals, StorageMetrics metrics,
    TimeProvider time, IOptions<StorageOptions> options, ILogger<PartitionLog> logger, ColdTier? coldTier = null)
{
    private readonly StorageOptions _options = options.Value;

    public async Task<AppendResult> AppendAsync(string topicName, int partition, ReadOnlyMemory<byte> batchBytes, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var topic = await topics.GetPartitionAsync(topicName, partition, cancellationToken);
        var batch = Check(topicName, batchBytes);
        if (topic.Compression != CompressionCodec.None && batch.Codec == CompressionCodec.None)
        {
            batch = RecordBatch.Parse(batch.Recompress(topic.Compression));
        }
        var identity = new BatchIdentity(batch.RecordCount, batch.ProducerId, batch.BaseSequence);

        var outcome = await hotTier.AppendAsync(topic, partition, batch.Bytes, identity, Policy(topic), cancellationToken);
        if (outcome.Status == AppendStatus.PartitionNotFound)
        {
            topic = await RefreshAfterMissingPartition(topicName, partition, topic, cancellationToken);
            outcome = await hotTier.AppendAsync(topic, partition, batch.Bytes, identity, Policy(topic), cancellationToken);
        }
        if (outcome.TieringDue >= 0)
        {
            coldTier?.Schedule.Mark(topic, partition, outcome.TieringDue);
        }
        switch (outcome.Status)
        {
            case AppendStatus.Appended:
                // In the log either way: readers may see it (from the primary) before the replicas confirm it.
                signals.Notify(topicName, partition);
                CheckReplicas(topicName, partition, outcome);
                metrics.Appended(topicName, batch.RecordCount, batch.Bytes.Length, Stopwatch.GetElapsedTime(started));
                return new AppendResult(outcome.BaseOffset, batch.RecordCount, Duplicate: false, outcome.EndOffset);
            case AppendStatus.Duplicate:
                CheckReplicas(topicName, partition, outcome);
                metrics.Duplicate(topicName);
                StorageLog.DuplicateBatch(logger, topicName, partition, batch.ProducerId, batch.BaseSequence, outcome.BaseOffset);
                return new AppendResult(outcome.BaseOffset, batch.RecordCount, Duplicate: true, outcome.EndOffset);
            case AppendStatus.OutOfOrderSequence:
                metrics.Rejected(topicName, "out_of_order_sequence");
                throw new LogException(LogError.OutOfOrderSequence,
                    $"Producer {batch.ProducerId} sent sequence {batch.BaseSequence} to {topicName}/{partition}; the next expected is {outcome.ExpectedSequence}.");
            case AppendStatus.HotTierFull:
                metrics.Rejected(topicName, "hot_tier_full");
                throw new LogException(LogError.HotTierFull,
                    $"Partition {topicName}/{partition} holds more than its hard limit of {HardLimit(topic)} bytes in the hot tier "
                    + $"(Storage:Tiering:HardLimitFactor × hotBytes): tiering to the {coldTier?.Store.Kind} segment store is behind. Retry later.");
            default:
                metrics.Rejected(topicName, "partition_not_found");
                throw new LogException(LogError.PartitionNotFound, $"Partition {topicName}/{partition} does not exist.");
        }
    }

    /// <summary>
    /// Batches from <paramref name="offset"/> on, the first trimmed to start there. With a wait, blocks until
    /// data arrives or the time is up (then answers no batches).
    /// </summary>
    public async Task<ReadResult> ReadAsync(
        string topicName, int partition, long offset, int maxBytes, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var topic = await topics.GetPartitionAsync(topicName, partition, cancellationToken);
        maxBytes = maxBytes <= 0 ? _options.DefaultReadBytes : Math.Min(maxBytes, _options.MaxReadBytes);
        var deadline = time.GetTimestamp() + (long)(Clamp(maxWait).TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            var signal = signals.NextAppend(topicName, partition);
            var read = await hotTier.ReadAsync(topic, partition, offset, maxBytes, cancellationToken);
            switch (read.Status)
            {
                case ReadStatus.PartitionNotFound:
                    topic = await RefreshAfterMissingPartition(topicName, partition, topic, cancellationToken);
                    continue;
                case ReadStatus.OffsetOutOfRange when offset < read.StartOffset && coldTier is not null:
                    return await ReadColdAsync(topic, partition, offset, maxBytes, read, cancellationToken);
                case ReadStatus.OffsetOutOfRange:
                    throw OutOfRange(topicName, partition, offset, read.StartOffset, read.EndOffset);
            }
            if (read.Batches.Count > 0)
            {
                var result = Trim(read.Batches, static b => b, offset, await LogStartAsync(topic, partition, read.StartOffset, cancellationToken), read.EndOffset);
                metrics.Read(topicName, result.NextOffset - offset, result.Batches.Sum(b => b.Length));
                return result;
            }
            var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                return new ReadResult([], offset, read.StartOffset, read.EndOffset);
            }
            await WaitForSignal(signal, remaining, cancellationToken);
        }
    }

    /// <summary>Waits until the partition's end is past <paramref name="offset"/>; answers the end offset then (or at time-out).</summary>
    public async Task<(long EndOffset, bool HasData)> WaitForDataAsync(
        string topicName, int partition, long offset, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var topic = await topics.GetPartitionAsync(topicName, partition, cancellationToken);
        var deadline = time.GetTimestamp() + (long)(Clamp(maxWait).TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            var signal = signals.NextAppend(topicName, partition);
            var state = await hotTier.DescribePartitionAsync(topic, partition, cancellationToken);
            if (!state.Exists)
            {
                topic = await RefreshAfterMissingPartition(topicName, partition, topic, cancellationToken);
                continue;
            }
            var end = state.EndOffset;
            if (end > offset)
            {
                return (end, true);
            }
            var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                return (end, false);
            }
            await WaitForSignal(signal, remaining, cancellationToken);
        }
    }

    /// <summary>
    /// Below the hot tier: the segment holding the offset. Tiering may have moved the offset out of the hot
    /// tier after the hot read looked, so the manifest is read afresh when its copy does not cover it; only an
    /// offset no tier holds (retention took it) is out of range.
    /// </summary>
    private async Task<ReadResult> ReadColdAsync(TopicConfig topic, int partition, long offset, int maxBytes, HotRead hot, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            ColdRead? cold;
            try
            {
                cold = await coldTier!.Reader.ReadAsync(topic, partition, offset, maxBytes, cancellationToken);
            }
            catch (SegmentNotFoundException) when (attempt == 0)
            {
                // Retention deleted the segment after the manifest was read: look again.
                await coldTier!.Manifest.ListAsync(topic, partition, cancellationToken);
                continue;
            }
            var segments = await coldTier.Manifest.CachedAsync(topic, partition, cancellationToken);
            var logStart = segments.Length > 0 ? segments[0].BaseOffset : hot.StartOffset;
            if (cold is null || cold.Batches.Count == 0)
            {
                throw OutOfRange(topic.Name, partition, offset, Math.Min(logStart, hot.StartOffset), hot.EndOffset);
            }
            var result = Trim(cold.Batches, static b => b, offset, logStart, hot.EndOffset);
            metrics.Read(topic.Name, result.NextOffset - offset, result.Batches.Sum(b => b.Length));
            return result;
        }
    }

    private async Task<long> LogStartAsync(TopicConfig topic, int partition, long hotStart, CancellationToken cancellationToken)
    {
        if (coldTier is null)
        {
            return hotStart;
        }
        var segments = await coldTier.Manifest.CachedAsync(topic, partition, cancellationToken);
        return segments.Length > 0 ? Math.Min(segments[0].BaseOffset, hotStart) : hotStart;
    }

    /// <summary>
    /// The earliest offset whose record's timestamp is at or past <paramref name="timestamp"/>, over both tiers
    /// (the cold tier first: its records are older); the end offset with found = false when no record is.
    /// </summary>
    public async Task<(long Offset, long Timestamp, bool Found)> FindOffsetAsync(string topicName, int partition, long timestamp, CancellationToken cancellationToken)
    {
        var topic = await topics.GetPartitionAsync(topicName, partition, cancellationToken);
        if (coldTier is not null && await coldTier.Reader.FindTimeAsync(topic, partition, timestamp, cancellationToken) is { } cold)
        {
            return (cold.Offset, cold.Timestamp, true);
        }
        var state = await hotTier.DescribePartitionAsync(topic, partition, cancellationToken);
        if (await hotTier.FindTimeAsync(topic, partition, timestamp, cancellationToken) is { } bytes)
        {
            foreach (var record in RecordBatch.Parse(bytes).GetRecords())
            {
                if (record.Timestamp >= timestamp && record.Offset >= state.StartOffset)
                {
                    return (record.Offset, record.Timestamp, true);
                }
            }
        }
        return (state.EndOffset, -1, false);
    }

    /// <summary>
    /// acks=replicas: refuses (retriably) an append the replicas did not confirm. It is written on the primary; a
    /// retry of the same producer sequence is answered as a duplicate and confirmed then, never written twice.
    /// </summary>
    private void CheckReplicas(string topicName, int partition, AppendOutcome outcome)
    {
        if (outcome.Replicas is { Confirmed: false } replicas)
        {
            metrics.Rejected(topicName, "not_enough_replicas");
            throw new LogException(LogError.NotEnoughReplicas,
                $"The batch for {topicName}/{partition} (offset {outcome.BaseOffset}) is on the Redis primary but not confirmed by "
                + $"{replicas.Required} replica(s) (Storage:MinInSyncReplicas; topic acks=replicas): {replicas.Detail}. Retry: an idempotent "
                + "producer's retry is answered with the same offsets, not written twice.");
        }
    }

    private static LogException OutOfRange(string topicName, int partition, long offset, long start, long end) =>
        new(LogError.OffsetOutOfRange,
            $"Offset {offset} is outside {topicName}/{partition}: the log holds offsets {start} to {end - 1} (end {end}).");

    private long HardLimit(TopicConfig topic) => coldTier?.HardLimitBytes(topic) ?? -1;

    private AppendPolicy Policy(TopicConfig topic) =>
        coldTier?.AppendPolicy(topic, time.GetUtcNow().ToUnixTimeMilliseconds()) ?? AppendPolicy.None;

    public async Task<(TopicConfig Topic, IReadOnlyList<PartitionState> Partitions)> DescribeAsync(string topicName, CancellationToken cancellationToken)
    {
        var topic = await topics.GetAsync(topicName, cancellationToken);
        return (topic, await hotTier.DescribeAsync(topic, cancellationToken));
    }

    /// <summary>
    /// The hot tier has no such partition although the cached topic says it should: the cache is stale (the
    /// topic was deleted, or deleted and re-created, through another instance). Reads the topic afresh and
    /// answers it when it is a different incarnation; otherwise the partition is really gone.
    /// </summary>
    private async Task<TopicConfig> RefreshAfterMissingPartition(string topicName, int partition, TopicConfig stale, CancellationToken cancellationToken)
    {
        topics.Forget(topicName);
        var fresh = await topics.GetPartitionAsync(topicName, partition, cancellationToken);
        return fresh.Id != stale.Id
            ? fresh
            : throw new LogException(LogError.PartitionNotFound, $"Partition {topicName}/{partition} does not exist.");
    }

    private RecordBatch Check(string topicName, ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length > _options.MaxBatchBytes)
        {
            metrics.Rejected(topicName, "batch_too_large");
            throw new LogException(LogError.BatchTooLarge,
                $"The batch is {bytes.Length} bytes; the limit (Storage:MaxBatchBytes) is {_options.MaxBatchBytes}.");
        }
        try
        {
            var batch = RecordBatch.Validate(bytes, _options.MaxUncompressedBatchBytes);
            if (batch.RecordCount > _options.MaxBatchRecords)
            {
                metrics.Rejected(topicName, "batch_too_large");
                throw new LogException(LogError.BatchTooLarge,
                    $"The batch holds {batch.RecordCount} records; the limit (Storage:MaxBatchRecords) is {_options.MaxBatchRecords}.");
            }
            if (batch.IsIdempotent && batch.BaseSequence < 0)
            {
                throw new LogException(LogError.InvalidBatch, $"Producer {batch.ProducerId} sent a negative base sequence.");
            }
            return batch;
        }
        catch (CorruptRecordBatchException ex)
        {
            metrics.Rejected(topicName, "corrupt_batch");
            throw new LogException(LogError.InvalidBatch, "The record batch is corrupt: " + ex.Message, ex);
        }
    }

    /// <summary>The read's batches with the first cut to start at the offset (the tiers checked every batch's CRC already).</summary>
    private static ReadResult Trim<T>(IReadOnlyList<T> read, Func<T, ReadOnlyMemory<byte>> bytesOf, long offset, long logStart, long end)
    {
        var batches = new ReadOnlyMemory<byte>[read.Count];
        for (var i = 0; i < batches.Length; i++)
        {
            batches[i] = bytesOf(read[i]);
        }
        var first = RecordBatch.ParseChecked(batches[0]);
        if (first.BaseOffset < offset)
        {
            batches[0] = first.TrimBefore(offset);
        }
        var last = RecordBatch.ParseChecked(batches[^1]);
        return new ReadResult(batches, last.NextOffset, logStart, end);
    }

    private TimeSpan Clamp(TimeSpan wait) =>
        wait <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds, _options.MaxWaitMs));

    /// <summary>Until the signal fires, the poll interval passes (safety net for a lost wake-up), or the time is up.</summary>
    private async Task WaitForSignal(Task signal, TimeSpan remaining, CancellationToken cancellationToken)
    {
        var slice = TimeSpan.FromMilliseconds(Math.Min(remaining.TotalMilliseconds, _options.WaitPollIntervalMs));
        try
        {
            await signal.WaitAsync(slice, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Re-check the log: the poll is the safety net.
        }
    }
}

public sealed record AppendResult(long BaseOffset, int RecordCount, bool Duplicate, long EndOffset);

/// <summary>Batches in offset order, the first starting exactly at the asked offset. The bytes are never changed after this (they may be cached chunks).</summary>
public sealed record ReadResult(IReadOnlyList<ReadOnlyMemory<byte>> Batches, long NextOffset, long LogStartOffset, long EndOffset);
