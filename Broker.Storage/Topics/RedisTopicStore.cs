using System.Text.Json;
using StackExchange.Redis;

namespace Broker.Storage.Topics;

/// <summary>Topic configurations as JSON in one Redis hash, "{prefix}:topics", field = topic name.</summary>
internal sealed class RedisTopicStore(IConnectionMultiplexer redis, RedisKeys keys) : ITopicStore
{
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

    public Task UpdateAsync(TopicConfig config, CancellationToken cancellationToken) =>
        Db.HashSetAsync(keys.Topics, config.Name, Serialize(config)).WaitAsync(cancellationToken);

    public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken) =>
        Db.HashDeleteAsync(keys.Topics, name).WaitAsync(cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        Db.HashLengthAsync(keys.Topics).WaitAsync(cancellationToken);

    private static string Serialize(TopicConfig config) => JsonSerializer.Serialize(config, TopicJsonContext.Default.TopicConfig);

    private static TopicConfig Deserialize(byte[] json) =>
        JsonSerializer.Deserialize(json, TopicJsonContext.Default.TopicConfig)
        ?? throw new InvalidDataException("A stored topic configuration is null.");
}
