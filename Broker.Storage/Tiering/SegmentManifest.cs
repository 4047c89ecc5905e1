using System.Collections.Concurrent;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.Segments;
using Broker.Storage.Topics;
using StackExchange.Redis;

namespace Broker.Storage.Tiering;

/// <summary>Why a tiering commit did not take.</summary>
public enum CommitStatus
{
    Committed,
    /// <summary>The hot tier no longer starts at the segment's base: read it again.</summary>
    Stale,
    PartitionGone,
    /// <summary>The cold tier does not end where the segment starts (it never should).</summary>
    Gap,
}

/// <summary>
/// Each partition's list of segments, in Redis beside its stream (see <see cref="TieringScripts"/>), with a
/// copy in memory: segments never change once listed, so the copy is only refreshed when it does not cover
/// what a reader asks for.
/// </summary>
public sealed class SegmentManifest(IConnectionMultiplexer redis, RedisKeys keys)
{
    private static readonly RedisScript s_commit = new(TieringScripts.Commit);
    private static readonly RedisScript s_dropOldest = new(TieringScripts.DropOldest);
    private readonly ConcurrentDictionary<(string TopicId, int Partition), SegmentInfo[]> _cache = new();

    private IDatabase Db => redis.GetDatabase();

    public RedisKey Key(TopicConfig topic, int partition) => ManifestKey(keys, topic, partition);

    public static RedisKey ManifestKey(RedisKeys keys, TopicConfig topic, int partition) =>
        $"{keys.Prefix}:{{{topic.Name}:{partition}}}:{topic.Id}:segs";

    /// <summary>Every segment of the partition, oldest first, read from Redis.</summary>
    public async Task<SegmentInfo[]> ListAsync(TopicConfig topic, int partition, CancellationToken cancellationToken)
    {
        var members = await Db.SortedSetRangeByRankAsync(Key(topic, partition)).WaitAsync(cancellationToken);
        var segments = members.Select(m => SegmentInfo.Parse(m!)).ToArray();
        _cache[(topic.Id, partition)] = segments;
        return segments;
    }

    /// <summary>The segment holding <paramref name="offset"/>, or null when no segment does (below the log start, or past the cold tier).</summary>
    public async Task<SegmentInfo?> FindAsync(TopicConfig topic, int partition, long offset, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue((topic.Id, partition), out var cached) && Find(cached, offset) is { } hit)
        {
            return hit;
        }
        return Find(await ListAsync(topic, partition, cancellationToken), offset);
    }

    /// <summary>The cached list when there is one (it may lag behind Redis by the newest segments).</summary>
    public async Task<SegmentInfo[]> CachedAsync(TopicConfig topic, int partition, CancellationToken cancellationToken) =>
        _cache.TryGetValue((topic.Id, partition), out var cached) ? cached : await ListAsync(topic, partition, cancellationToken);

    public async Task<(CommitStatus Status, long Offset)> CommitAsync(TopicConfig topic, int partition, SegmentInfo segment, CancellationToken cancellationToken)
    {
        RedisKey[] scriptKeys = [keys.Stream(topic.Name, topic.Id, partition), keys.Meta(topic.Name, topic.Id, partition), Key(topic, partition)];
        RedisValue[] values = [segment.BaseOffset, segment.NextOffset, segment.DataLength, segment.Size, segment.Serialize()];
        var r = (RedisResult[])(await s_commit.EvaluateAsync(Db, scriptKeys, values).WaitAsync(cancellationToken))!;
        var status = (CommitStatus)(int)r[0];
        if (status == CommitStatus.Committed)
        {
            _cache.TryRemove((topic.Id, partition), out _);
        }
        return (status, r.Length > 1 ? (long)r[1] : -1);
    }

    /// <summary>Forgets the oldest segment if it is still <paramref name="segment"/>; answers whether it did, and the cold tier's new start (-1 when empty).</summary>
    public async Task<(bool Dropped, long ColdStart)> DropOldestAsync(TopicConfig topic, int partition, SegmentInfo segment, CancellationToken cancellationToken)
    {
        RedisKey[] scriptKeys = [keys.Meta(topic.Name, topic.Id, partition), Key(topic, partition)];
        var r = (RedisResult[])(await s_dropOldest.EvaluateAsync(Db, scriptKeys, [segment.Serialize(), segment.Size]).WaitAsync(cancellationToken))!;
        _cache.TryRemove((topic.Id, partition), out _);
        return ((int)r[0] == 0, r.Length > 1 ? (long)r[1] : -1);
    }

    /// <summary>Drops the partitions' manifests (the topic is being deleted); their objects are the caller's to delete.</summary>
    public async Task DeleteAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var db = Db;
        await Task.WhenAll(Enumerable.Range(0, topic.Partitions).Select(p => db.KeyDeleteAsync(Key(topic, p)))).WaitAsync(cancellationToken);
        foreach (var key in _cache.Keys.Where(k => k.TopicId == topic.Id))
        {
            _cache.TryRemove(key, out _);
        }
    }

    private static SegmentInfo? Find(SegmentInfo[] segments, long offset)
    {
        var low = 0;
        var high = segments.Length - 1;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            var segment = segments[middle];
            if (offset < segment.BaseOffset)
            {
                high = middle - 1;
            }
            else if (offset >= segment.NextOffset)
            {
                low = middle + 1;
            }
            else
            {
                return segment;
            }
        }
        return null;
    }
}
