using System.Text.Json;
using Broker.ServiceDefaults.Redis;
using StackExchange.Redis;

namespace Broker.Storage.Topics;

/// <summary>
/// Topic configurations as JSON in one Redis hash, "{prefix}:topics", field = topic name, and the broker's
/// totals beside it ("{{prefix}:topics}:totals": topics, partitions; same Cluster slot). Every create, update
/// and delete is one script that checks the limits and moves the totals with the configuration, so no number
/// of Storage instances creating topics at once can pass Storage:MaxTopics or Storage:MaxPartitions.
/// </summary>
internal sealed class RedisTopicStore(IConnectionMultiplexer redis, RedisKeys keys) : ITopicStore
{
    /// <summary>
    /// KEYS: topics hash, totals hash. The totals as {topics, partitions}, counted again from the configurations
    /// when the totals hash is missing (first use) or its topic count is not the hash's (a topic written by a
    /// Storage older than the totals): one HVALS then, never on the usual path.
    /// </summary>
    private const string Totals = """
        local function totals()
          local n = redis.call('HLEN', KEYS[1])
          local t = redis.call('HMGET', KEYS[2], 'topics', 'partitions')
          if tonumber(t[1]) == n and t[2] then
            return n, tonumber(t[2])
          end
          local p = 0
          for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
            p = p + (tonumber(cjson.decode(json)['partitions']) or 0)
          end
          redis.call('HSET', KEYS[2], 'topics', n, 'partitions', p)
          return n, p
        end

        """;

    private static readonly RedisScript s_totals = new(Totals + """
        local n, p = totals()
        return {n, p}
        """);

    /// <summary>
    /// ARGV: name, JSON, partitions, max topics, max partitions.
    /// Returns {status, topics, partitions}: 0 written (totals after), 1 exists, 2 too many topics, 3 too many partitions (totals before).
    /// </summary>
    private static readonly RedisScript s_create = new(Totals + """
        local n, p = totals()
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
          return {1, n, p}
        end
        local parts = tonumber(ARGV[3])
        if n >= tonumber(ARGV[4]) then
          return {2, n, p}
        end
        if p + parts > tonumber(ARGV[5]) then
          return {3, n, p}
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HSET', KEYS[2], 'topics', n + 1, 'partitions', p + parts)
        return {0, n + 1, p + parts}
        """);

    /// <summary>
    /// Compare-and-set on the stored incarnation and version, so a concurrent update or delete is never
    /// overwritten. ARGV: name, expected id, expected version, new JSON, new partitions, max partitions.
    /// Returns {status, topics, partitions}: 0 written, 1 changed meanwhile, 3 too many partitions.
    /// </summary>
    private static readonly RedisScript s_update = new(Totals + """
        local n, p = totals()
        local stored = redis.call('HGET', KEYS[1], ARGV[1])
        if not stored then
          return {1, n, p}
        end
        local topic = cjson.decode(stored)
        if topic['id'] ~= ARGV[2] or (topic['version'] or 0) ~= tonumber(ARGV[3]) then
          return {1, n, p}
        end
        local added = tonumber(ARGV[5]) - (tonumber(topic['partitions']) or 0)
        if added > 0 and p + added > tonumber(ARGV[6]) then
          return {3, n, p}
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
        redis.call('HSET', KEYS[2], 'partitions', p + added)
        return {0, n, p + added}
        """);

    /// <summary>ARGV: name, id. Deletes the topic if it is still that incarnation; its partitions leave the totals. Returns 1 when deleted.</summary>
    private static readonly RedisScript s_delete = new(Totals + """
        local stored = redis.call('HGET', KEYS[1], ARGV[1])
        if not stored then
          return 0
        end
        local topic = cjson.decode(stored)
        if topic['id'] ~= ARGV[2] then
          return 0
        end
        local n, p = totals()
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HSET', KEYS[2], 'topics', n - 1, 'partitions', p - (tonumber(topic['partitions']) or 0))
        return 1
        """);

    private IDatabase Db => redis.GetDatabase();

    private RedisKey[] ScriptKeys => [keys.Topics, keys.TopicTotals];

    public async Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var json = await Db.HashGetAsync(keys.Topics, name).WaitAsync(cancellationToken);
        return json.IsNull ? null : Deserialize(json!);
    }

    public async Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken)
    {
        var all = await Db.HashGetAllAsync(keys.Topics).WaitAsync(cancellationToken);
        return [.. all.Select(e => Deserialize(e.Value!)).OrderBy(t => t.Name, StringComparer.Ordinal)];
    }

    public async Task<TopicWrite> TryCreateAsync(TopicConfig config, TopicLimits limits, CancellationToken cancellationToken)
    {
        var result = await s_create.EvaluateAsync(Db, ScriptKeys,
            [config.Name, Serialize(config), config.Partitions, limits.MaxTopics, limits.MaxPartitions]).WaitAsync(cancellationToken);
        return ToWrite(result);
    }

    public async Task<TopicWrite> TryUpdateAsync(TopicConfig current, TopicConfig updated, TopicLimits limits, CancellationToken cancellationToken)
    {
        var result = await s_update.EvaluateAsync(Db, ScriptKeys,
            [current.Name, current.Id, current.Version, Serialize(updated), updated.Partitions, limits.MaxPartitions]).WaitAsync(cancellationToken);
        return ToWrite(result);
    }

    public async Task<bool> DeleteAsync(TopicConfig topic, CancellationToken cancellationToken) =>
        (int)await s_delete.EvaluateAsync(Db, ScriptKeys, [topic.Name, topic.Id]).WaitAsync(cancellationToken) == 1;

    public async Task<TopicTotals> TotalsAsync(CancellationToken cancellationToken)
    {
        var r = (RedisResult[])(await s_totals.EvaluateAsync(Db, ScriptKeys, []).WaitAsync(cancellationToken))!;
        return new TopicTotals((long)r[0], (long)r[1]);
    }

    private static TopicWrite ToWrite(RedisResult result)
    {
        var r = (RedisResult[])result!;
        var status = (int)r[0] switch
        {
            0 => TopicWriteStatus.Written,
            1 => TopicWriteStatus.Conflict,
            2 => TopicWriteStatus.TooManyTopics,
            _ => TopicWriteStatus.TooManyPartitions,
        };
        return new TopicWrite(status, new TopicTotals((long)r[1], (long)r[2]));
    }

    private static string Serialize(TopicConfig config) => JsonSerializer.Serialize(config, TopicJsonContext.Default.TopicConfig);

    private static TopicConfig Deserialize(byte[] json) =>
        JsonSerializer.Deserialize(json, TopicJsonContext.Default.TopicConfig)
        ?? throw new InvalidDataException("A stored topic configuration is null.");
}
