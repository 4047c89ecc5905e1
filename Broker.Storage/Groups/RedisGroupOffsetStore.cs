using System.Globalization;
using Broker.Storage.Topics;
using StackExchange.Redis;

namespace Broker.Storage.Groups;

/// <summary>
/// One hash per (group, topic): field "p" holds partition p's offset, "p:m" its metadata when there is any.
/// A commit is one HSET, so a group's offsets for several partitions change together.
/// </summary>
internal sealed class RedisGroupOffsetStore(IConnectionMultiplexer redis, RedisKeys keys) : IGroupOffsetStore
{
    public Task CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken)
    {
        var entries = new List<HashEntry>(offsets.Count * 2);
        var cleared = new List<RedisValue>();
        foreach (var o in offsets)
        {
            var field = o.Partition.ToString(CultureInfo.InvariantCulture);
            entries.Add(new HashEntry(field, o.Offset));
            if (string.IsNullOrEmpty(o.Metadata))
            {
                cleared.Add(field + ":m");
            }
            else
            {
                entries.Add(new HashEntry(field + ":m", o.Metadata));
            }
        }
        var key = keys.GroupOffsets(group, topic.Name, topic.Id);
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(key, [.. entries]);
        if (cleared.Count > 0)
        {
            _ = transaction.HashDeleteAsync(key, [.. cleared]);
        }
        return transaction.ExecuteAsync().WaitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<CommittedOffset>> FetchAsync(string group, TopicConfig topic, CancellationToken cancellationToken)
    {
        var all = await redis.GetDatabase().HashGetAllAsync(keys.GroupOffsets(group, topic.Name, topic.Id)).WaitAsync(cancellationToken);
        var metadata = new Dictionary<int, string>();
        var offsets = new List<(int Partition, long Offset)>();
        foreach (var entry in all)
        {
            var name = (string)entry.Name!;
            if (name.EndsWith(":m", StringComparison.Ordinal))
            {
                metadata[int.Parse(name.AsSpan(0, name.Length - 2), CultureInfo.InvariantCulture)] = (string)entry.Value!;
            }
            else
            {
                offsets.Add((int.Parse(name, CultureInfo.InvariantCulture), (long)entry.Value));
            }
        }
        return [.. offsets.OrderBy(o => o.Partition).Select(o => new CommittedOffset(o.Partition, o.Offset, metadata.GetValueOrDefault(o.Partition, "")))];
    }

    public Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken) =>
        redis.GetDatabase().KeyDeleteAsync(keys.GroupOffsets(group, topic.Name, topic.Id)).WaitAsync(cancellationToken);
}
