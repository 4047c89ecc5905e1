using System.Collections.Concurrent;
using Broker.Storage.HotTier;
using Broker.Storage.Telemetry;
using Broker.Storage.Tiering;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Retention;

/// <summary>
/// Applies each topic's retention (time and bytes, over both tiers) to its partitions on a timer, oldest
/// first: whole segments of the cold tier (manifest first, object second), then whole batches of the hot
/// tier once the cold tier is empty. The start offset moves up, the end offset never moves. Every
/// Storage instance may run it at once; each step is atomic per partition, so nothing goes twice.
/// <para>
/// Cost: a pass reads each partition's sizes and start offsets (one HMGET per partition, pipelined per topic: at
/// 2,000 partitions, 2,000 commands a pass, one pass a minute by default) and works only on the partitions where
/// something may go: over the byte limit, or holding a batch or segment whose max timestamp is past the time limit
/// by what this instance last saw of the partition's oldest (remembered while the log start stays where it was;
/// a partition it has not seen yet is looked at once). It used to trim every partition: two round trips and about
/// five commands each (10,003 commands a pass at 2,000 partitions), one partition after another.
/// </para>
/// </summary>
public sealed class RetentionService(
    ITopicStore topics, IHotTier hotTier, StorageMetrics metrics, TimeProvider time,
    IOptions<StorageOptions> options, ILogger<RetentionService> logger, ColdTier? coldTier = null) : BackgroundService
{
    private readonly StorageOptions _options = options.Value;

    /// <summary>Per partition: the log start at the last look, and the max timestamp of the oldest batch or segment there.</summary>
    private readonly ConcurrentDictionary<(string TopicId, int Partition), (long Start, long MaxTimestamp)> _oldest = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.RetentionCheckIntervalSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                StorageLog.RetentionFailed(logger, ex);
            }
        }
    }

    /// <summary>One pass over every topic with a retention; answers how many batches (and segments) were removed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var all = await topics.ListAsync(cancellationToken);
        foreach (var topic in all)
        {
            if (topic.RetentionMs < 0 && topic.RetentionBytes < 0)
            {
                continue;
            }
            var minTimestamp = topic.RetentionMs < 0 ? -1 : now - topic.RetentionMs;
            foreach (var state in await hotTier.DescribeAsync(topic, cancellationToken))
            {
                if (state.Exists && MayRemove(topic, state, minTimestamp))
                {
                    removed += await ApplyAsync(topic, state.Partition, minTimestamp, cancellationToken);
                }
            }
        }
        var live = all.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _oldest.Keys.Where(k => !live.Contains(k.TopicId)))
        {
            _oldest.TryRemove(key, out _);
        }
        return removed;
    }

    /// <summary>Whether the partition may hold something past its topic's retention, by its sizes and what is known of its oldest record.</summary>
    private bool MayRemove(TopicConfig topic, PartitionState state, long minTimestamp)
    {
        var bytes = state.Bytes + state.ColdBytes;
        if (bytes == 0 && state.ColdStartOffset < 0)
        {
            return false;
        }
        if (topic.RetentionBytes >= 0 && bytes > topic.RetentionBytes)
        {
            return true;
        }
        if (minTimestamp < 0)
        {
            return false;
        }
        return !_oldest.TryGetValue((topic.Id, state.Partition), out var known)
            || known.Start != state.LogStartOffset
            || known.MaxTimestamp < minTimestamp;
    }

    /// <summary>The retention of one partition, cold tier first; remembers the oldest record's time that is left.</summary>
    private async Task<int> ApplyAsync(TopicConfig topic, int p, long minTimestamp, CancellationToken cancellationToken)
    {
        var removed = 0;
        (long Start, long MaxTimestamp)? oldest = null;
        if (coldTier is not null)
        {
            var (dropped, remaining) = await DropSegmentsAsync(topic, p, minTimestamp, cancellationToken);
            removed += dropped;
            oldest = remaining;
        }
        var result = await hotTier.TrimAsync(topic, p, minTimestamp, topic.RetentionBytes, _options.RetentionBatchesPerPass, cancellationToken);
        if (result.BatchesRemoved > 0)
        {
            removed += result.BatchesRemoved;
            metrics.RetentionRemoved(topic.Name, result.BatchesRemoved);
            StorageLog.RetentionTrimmed(logger, topic.Name, p, result.BatchesRemoved, result.StartOffset);
        }
        oldest ??= result.OldestMaxTimestamp is { } ts ? (result.StartOffset, ts) : null;
        if (oldest is { } known)
        {
            _oldest[(topic.Id, p)] = known;
        }
        else
        {
            _oldest.TryRemove((topic.Id, p), out _);
        }
        return removed;
    }

    /// <summary>The oldest segments past the time limit, or while both tiers together hold more than the byte limit; answers how many went.</summary>
    private async Task<(int Dropped, (long Start, long MaxTimestamp)? Oldest)> DropSegmentsAsync(
        TopicConfig topic, int partition, long minTimestamp, CancellationToken cancellationToken)
    {
        var segments = await coldTier!.Manifest.ListAsync(topic, partition, cancellationToken);
        if (segments.Length == 0)
        {
            return (0, null);
        }
        var state = await hotTier.DescribePartitionAsync(topic, partition, cancellationToken);
        var total = state.Bytes + state.ColdBytes;
        var dropped = 0;
        foreach (var segment in segments)
        {
            var expired = minTimestamp >= 0 && segment.MaxTimestamp < minTimestamp;
            var over = topic.RetentionBytes >= 0 && total > topic.RetentionBytes;
            if (!(expired || over))
            {
                return (dropped, (segment.BaseOffset, segment.MaxTimestamp));
            }
            var (gone, coldStart) = await coldTier.DropOldestAsync(topic, partition, segment, cancellationToken);
            if (!gone)
            {
                return (dropped, null); // another instance's retention got there first
            }
            dropped++;
            total -= segment.Size;
            StorageLog.SegmentDeleted(logger, coldTier.Reader.ObjectName(topic, partition, segment), topic.Name, partition,
                coldStart >= 0 ? coldStart : segment.NextOffset);
        }
        return (dropped, null);
    }
}
