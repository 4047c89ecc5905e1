using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.HotTier;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Storage.Tiering;

/// <summary>
/// Moves the oldest batches of every partition whose hot tier is over its topic's budget (hotBytes, and
/// hotMs when set) into segments: under a Redis lease per partition (one instance tiers a partition), it
/// reads the batches, writes the segment in one PUT, then records it in the manifest and trims the stream
/// in one atomic step. A crash after the PUT is repaired by the next run, which finds the hot tier where it
/// was and writes the same object name again: no gap, no duplicate. A segment is cut at
/// Storage:Tiering:SegmentBytes or once batches have waited SegmentMaxAgeMs, never per batch.
/// </summary>
public sealed class TieringService(
    ITopicStore topics, IHotTier hotTier, ColdTier cold, IConnectionMultiplexer redis, RedisKeys keys,
    TieringMetrics metrics, TimeProvider time, IOptions<TieringOptions> options, ILogger<TieringService> logger) : BackgroundService
{
    private const int ReadStepBytes = 4 * 1024 * 1024;
    private const int MaxSegmentsPerPass = 64;
    private readonly TieringOptions _options = options.Value;
    private readonly string _holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<(string TopicId, int Partition), long> _waitingSince = new();
    private readonly ConcurrentDictionary<(string TopicId, int Partition), (long Start, long MaxTimestamp)> _oldest = new();
    private readonly ConcurrentBag<SegmentWriter> _writers = [];

    /// <summary>Tests: runs after a segment's upload and before its commit (throw to act out a crash there).</summary>
    internal Func<TopicConfig, int, SegmentInfo, Task>? AfterUpload { get; set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.IntervalMs), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                StorageLog.TieringPassFailed(logger, ex);
            }
        }
    }

    /// <summary>One pass over every partition; answers how many segments were written.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var work = new List<(TopicConfig Topic, PartitionState State)>();
        foreach (var topic in await topics.ListAsync(cancellationToken))
        {
            foreach (var state in await hotTier.DescribeAsync(topic, cancellationToken))
            {
                if (state.Exists)
                {
                    work.Add((topic, state));
                }
            }
        }
        var written = 0;
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                try
                {
                    Interlocked.Add(ref written, await TierAsync(item.Topic, item.State, ct));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // The segment store may be down: the hot tier keeps the batches, the next pass tries again.
                    StorageLog.TieringFailed(logger, item.Topic.Name, item.State.Partition, ex.Message);
                }
            });
        return written;
    }

    private async Task<int> TierAsync(TopicConfig topic, PartitionState state, CancellationToken cancellationToken)
    {
        var key = (topic.Id, state.Partition);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var excess = state.Bytes - topic.HotBytes;
        var aged = topic.HotMs >= 0 && state.Bytes > 0
            && await OldestTimestampAsync(topic, state, cancellationToken) < now - topic.HotMs;
        if (excess <= 0 && !aged)
        {
            _waitingSince.TryRemove(key, out _);
            metrics.SetLag(topic.Name, state.Partition, 0, 0);
            return 0;
        }
        var since = _waitingSince.GetOrAdd(key, now);
        metrics.SetLag(topic.Name, state.Partition, Math.Max(excess, 0), (now - since) / 1000.0);
        // Too little waits for a full segment, and not for long: one PUT per segment, not one per pass.
        if (!aged && excess < _options.SegmentBytes && now - since < _options.SegmentMaxAgeMs)
        {
            return 0;
        }
        if (!await LeaseAsync(topic, state.Partition, cancellationToken))
        {
            return 0; // another Storage instance tiers this partition
        }
        if (!_writers.TryTake(out var writer))
        {
            writer = new SegmentWriter(_options.IndexIntervalBytes);
        }
        try
        {
            var start = state.StartOffset;
            var written = 0;
            for (var round = 0; round < MaxSegmentsPerPass; round++)
            {
                writer.Reset();
                var full = await FillAsync(writer, topic, state.Partition, start, excess, now, cancellationToken);
                if (writer.BatchCount == 0 || (!full && now - since < _options.SegmentMaxAgeMs))
                {
                    break;
                }
                var (bytes, segment) = writer.Finish();
                var name = cold.Reader.ObjectName(topic, state.Partition, segment);
                await cold.Store.PutAsync(name, bytes, cancellationToken);
                if (AfterUpload is { } hook)
                {
                    await hook(topic, state.Partition, segment);
                }
                var (status, offset) = await cold.Manifest.CommitAsync(topic, state.Partition, segment, cancellationToken);
                if (status != CommitStatus.Committed)
                {
                    // Another run committed first, or retention moved the hot tier: the next pass looks again.
                    StorageLog.TieringStale(logger, topic.Name, state.Partition, offset, segment.BaseOffset);
                    break;
                }
                written++;
                metrics.Uploaded(topic.Name, segment.Size);
                StorageLog.SegmentTiered(logger, topic.Name, state.Partition, segment.BaseOffset, segment.NextOffset, segment.Size, segment.BatchCount, name);
                start = segment.NextOffset;
                excess -= segment.DataLength;
                since = now;
                _waitingSince[key] = now;
                if (!full)
                {
                    break;
                }
            }
            metrics.SetLag(topic.Name, state.Partition, Math.Max(excess, 0), 0);
            return written;
        }
        finally
        {
            _writers.Add(writer);
        }
    }

    /// <summary>
    /// Fills the writer with the oldest batches from <paramref name="start"/> that are due to leave the hot
    /// tier (while it is over budget, or older than hotMs); answers whether the segment is full.
    /// </summary>
    private async Task<bool> FillAsync(SegmentWriter writer, TopicConfig topic, int partition, long start, long excess, long now, CancellationToken cancellationToken)
    {
        var position = start;
        var remaining = excess;
        while (true)
        {
            var read = await hotTier.ReadAsync(topic, partition, position, ReadStepBytes, cancellationToken);
            if (read.Status != ReadStatus.Ok || read.Batches.Count == 0)
            {
                return false;
            }
            foreach (var bytes in read.Batches)
            {
                var batch = RecordBatch.Parse(bytes);
                var due = remaining > 0 || (topic.HotMs >= 0 && batch.MaxTimestamp < now - topic.HotMs);
                if (!due)
                {
                    return false;
                }
                if (writer.BatchCount > 0 && writer.DataLength + bytes.Length > _options.SegmentBytes)
                {
                    return true;
                }
                writer.Add(batch);
                remaining -= bytes.Length;
                position = batch.NextOffset;
                if (writer.DataLength >= _options.SegmentBytes)
                {
                    return true;
                }
            }
        }
    }

    /// <summary>The max timestamp of the partition's oldest hot batch, remembered while the hot tier starts at the same offset.</summary>
    private async Task<long> OldestTimestampAsync(TopicConfig topic, PartitionState state, CancellationToken cancellationToken)
    {
        var key = (topic.Id, state.Partition);
        if (_oldest.TryGetValue(key, out var known) && known.Start == state.StartOffset)
        {
            return known.MaxTimestamp;
        }
        var read = await hotTier.ReadAsync(topic, state.Partition, state.StartOffset, 1, cancellationToken);
        if (read.Status != ReadStatus.Ok || read.Batches.Count == 0)
        {
            return long.MaxValue;
        }
        var oldest = RecordBatch.Parse(read.Batches[0]).MaxTimestamp;
        _oldest[key] = (state.StartOffset, oldest);
        return oldest;
    }

    private async Task<bool> LeaseAsync(TopicConfig topic, int partition, CancellationToken cancellationToken)
    {
        RedisKey lease = $"{keys.Prefix}:{{{topic.Name}:{partition}}}:{topic.Id}:tierlease";
        return await RedisLease.AcquireAsync(redis.GetDatabase(), lease, _holder, TimeSpan.FromMilliseconds(_options.LeaseMs), cancellationToken);
    }
}
