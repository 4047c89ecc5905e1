using System.Text.Json;
using Broker.ServiceDefaults.Redis;
using StackExchange.Redis;

namespace Broker.Storage.Topics;

/// <summary>Topic configurations as JSON in one Redis hash, "{prefix}:topics", field = topic name.</summary>
internal sealed class RedisTopicStore(IConnectionMultiplexer redis, RedisKeys keys) : ITopicStore
{
    /// <summary>KEYS: topics hash. ARGV: name, expected id, expected version, new JSON. Returns 1 when replaced.</summary>
    private static readonly RedisScript s_update = new("""
        local stored = redis.call('HGET', KEYS[1], ARGV[1])
        if not stored then
          return 0
        end
        local topic = cjson.decode(stored)
        if topic['id'] ~= ARGV[2] or (topic['version'] or 0) ~= tonumber(ARGV[3]) then
          return 0
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
        return 1
        """);

    private IDatabase Db => redis.GetDatabase();

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

    public Task<bool> TryCreateAsync(TopicConfig config, CancellationToken cancellationToken) =>
        Db.HashSetAsync(keys.Topics, config.Name, Serialize(config), When.NotExists).WaitAsync(cancellationToken);

    public async Task<bool> TryUpdateAsync(TopicConfig current, TopicConfig updated, CancellationToken cancellationToken)
    {
        // Compare-and-set on the stored incarnation and version, so a concurrent update or delete is never overwritten.
        var result = await s_update.EvaluateAsync(Db, [keys.Topics], [current.Name, current.Id, current.Version, Serialize(updated)])
            .WaitAsync(cancellationToken);
        return (int)result == 1;
    }

    public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken) =>
        Db.HashDeleteAsync(keys.Topics, name).WaitAsync(cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        Db.HashLengthAsync(keys.Topics).WaitAsync(cancellationToken);

    private static string Serialize(TopicConfig config) => JsonSerializer.Serialize(config, TopicJsonContext.Default.TopicConfig);

    private static TopicConfig Deserialize(byte[] json) =>
        JsonSerializer.Deserialize(json, TopicJsonContext.Default.TopicConfig)
        ?? throw new InvalidDataException("A stored topic configuration is null.");
}
