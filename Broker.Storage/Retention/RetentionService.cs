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
/// </summary>
public sealed class RetentionService(
    ITopicStore topics, IHotTier hotTier, StorageMetrics metrics, TimeProvider time,
    IOptions<StorageOptions> options, ILogger<RetentionService> logger, ColdTier? coldTier = null) : BackgroundService
{
    private readonly StorageOptions _options = options.Value;

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

    /// <summary>One pass over every topic and partition; answers how many batches were removed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var topic in await topics.ListAsync(cancellationToken))
        {
            if (topic.RetentionMs < 0 && topic.RetentionBytes < 0)
            {
                continue;
            }
            var minTimestamp = topic.RetentionMs < 0 ? -1 : now - topic.RetentionMs;
            for (var p = 0; p < topic.Partitions; p++)
            {
                if (coldTier is not null)
                {
                    removed += await DropSegmentsAsync(topic, p, minTimestamp, cancellationToken);
                }
                var result = await hotTier.TrimAsync(topic, p, minTimestamp, topic.RetentionBytes, _options.RetentionBatchesPerPass, cancellationToken);
                if (result.BatchesRemoved > 0)
                {
                    removed += result.BatchesRemoved;
                    metrics.RetentionRemoved(topic.Name, result.BatchesRemoved);
                    StorageLog.RetentionTrimmed(logger, topic.Name, p, result.BatchesRemoved, result.StartOffset);
                }
            }
        }
        return removed;
    }

    /// <summary>The oldest segments past the time limit, or while both tiers together hold more than the byte limit; answers how many went.</summary>
    private async Task<int> DropSegmentsAsync(TopicConfig topic, int partition, long minTimestamp, CancellationToken cancellationToken)
    {
        var segments = await coldTier!.Manifest.ListAsync(topic, partition, cancellationToken);
        if (segments.Length == 0)
        {
            return 0;
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
                break;
            }
            var (gone, coldStart) = await coldTier.DropOldestAsync(topic, partition, segment, cancellationToken);
            if (!gone)
            {
                break; // another instance's retention got there first
            }
            dropped++;
            total -= segment.Size;
            StorageLog.SegmentDeleted(logger, coldTier.Reader.ObjectName(topic, partition, segment), topic.Name, partition,
                coldStart >= 0 ? coldStart : segment.NextOffset);
        }
        return dropped;
    }
}
