using System.Globalization;
using Broker.ServiceDefaults.Redis;
using Broker.ServiceDefaults.Security.Acls;
using StackExchange.Redis;

namespace Broker.Storage.Acls;

/// <summary>
/// ACL entries as the fields of one Redis hash (<c>{prefix}:{acls}</c>, field = the entry's canonical JSON), a version
/// counter beside it, and a channel every change is PUBLISHed on, so each Storage instance reloads at once.
/// </summary>
internal sealed class RedisAclStore(IConnectionMultiplexer redis, RedisKeys keys) : IAclStore
{
    /// <summary>KEYS: hash, version. ARGV: channel, max entries, fields. The number added, or -1 past the limit.</summary>
    private static readonly RedisScript s_add = new("""
        local added = 0
        for i = 3, #ARGV do
          if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
            added = added + 1
          end
        end
        if added == 0 then
          return 0
        end
        if redis.call('HLEN', KEYS[1]) + added > tonumber(ARGV[2]) then
          return -1
        end
        for i = 3, #ARGV do
          redis.call('HSET', KEYS[1], ARGV[i], '1')
        end
        redis.call('PUBLISH', ARGV[1], redis.call('INCR', KEYS[2]))
        return added
        """);

    /// <summary>KEYS: hash, version. ARGV: channel, fields. The number removed.</summary>
    private static readonly RedisScript s_remove = new("""
        local removed = 0
        for i = 2, #ARGV do
          removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
        end
        if removed > 0 then
          redis.call('PUBLISH', ARGV[1], redis.call('INCR', KEYS[2]))
        end
        return removed
        """);

    /// <summary>KEYS: hash, version. The version and the fields, read at one moment.</summary>
    private static readonly RedisScript s_load = new("""
        return { redis.call('GET', KEYS[2]) or '0', redis.call('HKEYS', KEYS[1]) }
        """);

    private IDatabase Db => redis.GetDatabase();

    public async Task<AclSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await s_load.EvaluateAsync(Db, [keys.Acls, keys.AclsVersion], []).WaitAsync(cancellationToken))!;
        var version = long.Parse((string)result[0]!, CultureInfo.InvariantCulture);
        var fields = (RedisResult[])result[1]!;
        return new AclSnapshot(version, fields.Select(f => AclEntryJson.Deserialize((string)f!)).OfType<AclEntry>());
    }

    public async Task<int> AddAsync(IReadOnlyList<AclEntry> entries, int maxAcls, CancellationToken cancellationToken)
    {
        RedisValue[] values = [keys.AclsChannelName, maxAcls, .. entries.Select(e => (RedisValue)AclEntryJson.Serialize(e))];
        var added = (int)await s_add.EvaluateAsync(Db, [keys.Acls, keys.AclsVersion], values).WaitAsync(cancellationToken);
        return added < 0 ? throw new AclLimitException(maxAcls) : added;
    }

    public async Task<int> RemoveAsync(IReadOnlyList<AclEntry> entries, CancellationToken cancellationToken)
    {
        RedisValue[] values = [keys.AclsChannelName, .. entries.Select(e => (RedisValue)AclEntryJson.Serialize(e))];
        return (int)await s_remove.EvaluateAsync(Db, [keys.Acls, keys.AclsVersion], values).WaitAsync(cancellationToken);
    }

    public Task SubscribeAsync(Action changed, CancellationToken cancellationToken) =>
        redis.GetSubscriber().SubscribeAsync(keys.AclsChanged, (_, _) => changed()).WaitAsync(cancellationToken);
}
