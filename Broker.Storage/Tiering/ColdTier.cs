using Broker.Storage.HotTier;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;

namespace Broker.Storage.Tiering;

/// <summary>
/// The cold tier as the rest of Storage sees it: the segment store, each partition's manifest, and the
/// reader. Registered only when there is one (a Redis hot tier and a segment store other than "none").
/// </summary>
public sealed class ColdTier(ISegmentStore store, SegmentManifest manifest, ColdReader reader, TieringSchedule schedule, TieringOptions options,
    TieringMetrics metrics, ILogger<ColdTier> logger)
{
    public ISegmentStore Store => store;

    public SegmentManifest Manifest => manifest;

    public ColdReader Reader => reader;

    public TieringSchedule Schedule => schedule;

    public TieringOptions Options => options;

    public TieringMetrics Metrics => metrics;

    /// <summary>Hot bytes past which a partition refuses appends: its budget times Storage:Tiering:HardLimitFactor.</summary>
    public long HardLimitBytes(TopicConfig topic) => (long)Math.Min(long.MaxValue / 2, topic.HotBytes * options.HardLimitFactor);

    /// <summary>What an append to one of the topic's partitions checks: the hard limit, and the budget that makes the partition due for tiering.</summary>
    public AppendPolicy AppendPolicy(TopicConfig topic, long now) =>
        new(HardLimitBytes(topic), topic.HotBytes, topic.HotMs, options.SegmentBytes, options.SegmentMaxAgeMs, now);

    /// <summary>Retention: forgets the oldest segment (manifest first), then deletes its object.</summary>
    public async Task<(bool Dropped, long ColdStart)> DropOldestAsync(TopicConfig topic, int partition, SegmentInfo segment, CancellationToken cancellationToken)
    {
        var (dropped, coldStart) = await manifest.DropOldestAsync(topic, partition, segment, cancellationToken);
        if (dropped)
        {
            var name = reader.ObjectName(topic, partition, segment);
            reader.Evict(name, segment);
            metrics.SegmentDeleted(topic.Name);
            await DeleteObjectAsync(name, cancellationToken);
        }
        return (dropped, coldStart);
    }

    /// <summary>A deleted topic's segments: every object its manifests name, then the manifests.</summary>
    public async Task DeletePartitionsAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        for (var p = 0; p < topic.Partitions; p++)
        {
            foreach (var segment in await manifest.ListAsync(topic, p, cancellationToken))
            {
                await DeleteObjectAsync(reader.ObjectName(topic, p, segment), cancellationToken);
            }
        }
        await manifest.DeleteAsync(topic, cancellationToken);
        await schedule.ForgetAsync(topic, cancellationToken);
    }

    private async Task DeleteObjectAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await store.DeleteAsync(name, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            StorageLog.SegmentDeleteFailed(logger, name, ex.Message);
        }
    }
}
