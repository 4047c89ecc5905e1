using System.Globalization;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.Topics;
using StackExchange.Redis;

namespace Broker.Storage.Groups;

/// <summary>
/// One hash per (group, topic): field "p" holds partition p's offset, "p:m" its metadata when there is any, "p:e" the
/// highest lease epoch seen for it. A commit is one script, so a group's offsets for several partitions change together
/// and each is checked against its epoch where it is stored. A set per topic incarnation names the groups that
/// committed in it (a separate slot, so written beside the commit), so that deleting the topic deletes their offsets.
/// </summary>
internal sealed class RedisGroupOffsetStore(IConnectionMultiplexer redis, RedisKeys keys) : IGroupOffsetStore
{
    /// <summary>KEYS: the hash. ARGV: (partition, offset, epoch, metadata) per offset. Answers the fenced partitions.</summary>
    private static readonly RedisScript s_commit = new("""
        local fenced = {}
        for i = 1, #ARGV, 4 do
          local p = ARGV[i]
          local epoch = tonumber(ARGV[i + 2])
          local held = tonumber(redis.call('HGET', KEYS[1], p .. ':e') or '0')
          if epoch > 0 and held > epoch then
            fenced[#fenced + 1] = tonumber(p)
          else
            redis.call('HSET', KEYS[1], p, ARGV[i + 1])
            if epoch > held then
              redis.call('HSET', KEYS[1], p .. ':e', ARGV[i + 2])
            end
            if ARGV[i + 3] == '' then
              redis.call('HDEL', KEYS[1], p .. ':m')
            else
              redis.call('HSET', KEYS[1], p .. ':m', ARGV[i + 3])
            end
          end
        end
        return fenced
        """);

    /// <summary>KEYS: the hash. ARGV: (partition, epoch) per fenced partition. Answers { fenced partitions, the hash }.</summary>
    private static readonly RedisScript s_fenceAndFetch = new("""
        local fenced = {}
        for i = 1, #ARGV, 2 do
          local field = ARGV[i] .. ':e'
          local epoch = tonumber(ARGV[i + 1])
          local held = tonumber(redis.call('HGET', KEYS[1], field) or '0')
          if held > epoch then
            fenced[#fenced + 1] = tonumber(ARGV[i])
          elseif epoch > held then
            redis.call('HSET', KEYS[1], field, ARGV[i + 1])
          end
        end
        return { fenced, redis.call('HGETALL', KEYS[1]) }
        """);

    public async Task<IReadOnlyList<int>> CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken)
    {
        var values = new RedisValue[offsets.Count * 4];
        for (var i = 0; i < offsets.Count; i++)
        {
            values[4 * i] = offsets[i].Partition;
            values[(4 * i) + 1] = offsets[i].Offset;
            values[(4 * i) + 2] = offsets[i].LeaseEpoch;
            values[(4 * i) + 3] = offsets[i].Metadata ?? "";
        }
        var db = redis.GetDatabase();
        var indexed = db.SetAddAsync(keys.TopicGroups(topic.Name, topic.Id), group);
        var result = await s_commit.EvaluateAsync(db, [keys.GroupOffsets(group, topic.Name, topic.Id)], values).WaitAsync(cancellationToken);
        await indexed.WaitAsync(cancellationToken);
        return Partitions(result);
    }

    public async Task<(IReadOnlyList<CommittedOffset> Offsets, IReadOnlyList<int> Fenced)> FetchAsync(
        string group, TopicConfig topic, IReadOnlyList<PartitionEpoch> fence, CancellationToken cancellationToken)
    {
        var key = keys.GroupOffsets(group, topic.Name, topic.Id);
        if (fence.Count == 0)
        {
            return (Parse(await redis.GetDatabase().HashGetAllAsync(key).WaitAsync(cancellationToken)), []);
        }
        var values = new RedisValue[fence.Count * 2];
        for (var i = 0; i < fence.Count; i++)
        {
            values[2 * i] = fence[i].Partition;
            values[(2 * i) + 1] = fence[i].Epoch;
        }
        var db = redis.GetDatabase();
        var indexed = db.SetAddAsync(keys.TopicGroups(topic.Name, topic.Id), group);
        var result = (RedisResult[])(await s_fenceAndFetch.EvaluateAsync(db, [key], values).WaitAsync(cancellationToken))!;
        await indexed.WaitAsync(cancellationToken);
        var flat = (RedisValue[])result[1]!;
        var entries = new HashEntry[flat.Length / 2];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new HashEntry(flat[2 * i], flat[(2 * i) + 1]);
        }
        return (Parse(entries), Partitions(result[0]));
    }

    public async Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        await db.KeyDeleteAsync(keys.GroupOffsets(group, topic.Name, topic.Id)).WaitAsync(cancellationToken);
        await db.SetRemoveAsync(keys.TopicGroups(topic.Name, topic.Id), group).WaitAsync(cancellationToken);
    }

    public async Task DeleteTopicAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var index = keys.TopicGroups(topic.Name, topic.Id);
        // One group at a time (each key its own slot), in pages, so a topic with very many groups is no single huge command.
        await foreach (var group in db.SetScanAsync(index, pageSize: 500).WithCancellation(cancellationToken))
        {
            await db.KeyDeleteAsync(keys.GroupOffsets((string)group!, topic.Name, topic.Id)).WaitAsync(cancellationToken);
        }
        await db.KeyDeleteAsync(index).WaitAsync(cancellationToken);
    }

    private static int[] Partitions(RedisResult result) => [.. ((RedisResult[])result!).Select(r => (int)r)];

    private static List<CommittedOffset> Parse(HashEntry[] all)
    {
        var metadata = new Dictionary<int, string>();
        var epochs = new Dictionary<int, long>();
        var offsets = new List<(int Partition, long Offset)>();
        foreach (var entry in all)
        {
            var name = (string)entry.Name!;
            if (name.EndsWith(":m", StringComparison.Ordinal))
            {
                metadata[int.Parse(name.AsSpan(0, name.Length - 2), CultureInfo.InvariantCulture)] = (string)entry.Value!;
            }
            else if (name.EndsWith(":e", StringComparison.Ordinal))
            {
                epochs[int.Parse(name.AsSpan(0, name.Length - 2), CultureInfo.InvariantCulture)] = (long)entry.Value;
            }
            else
            {
                offsets.Add((int.Parse(name, CultureInfo.InvariantCulture), (long)entry.Value));
            }
        }
        return [.. offsets.OrderBy(o => o.Partition).Select(o =>
            new CommittedOffset(o.Partition, o.Offset, metadata.GetValueOrDefault(o.Partition, ""), epochs.GetValueOrDefault(o.Partition)))];
    }
}
