using StackExchange.Redis;

namespace Broker.ServiceDefaults.Redis;

/// <summary>
/// A lease in one Redis key: whoever holds it (a name of the caller's choosing) may renew it; nobody else may
/// take it until it runs out. What keeps one Storage instance tiering a partition, or one Delivery instance
/// running a replay job. Each call touches one key, so it works on Redis Cluster.
/// </summary>
public static class RedisLease
{
    /// <summary>KEYS: lease. ARGV: holder, ms. Takes or renews the lease unless another holds it; 1 when the caller holds it now.</summary>
    private static readonly RedisScript s_acquire = new("""
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
        return 1
        """);

    /// <summary>KEYS: lease. ARGV: holder. Drops the lease only if the caller holds it.</summary>
    private static readonly RedisScript s_release = new("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
        end
        return 0
        """);

    /// <summary>Takes or renews the lease for <paramref name="holder"/>; true when the caller holds it for <paramref name="lease"/> from now.</summary>
    public static async Task<bool> AcquireAsync(IDatabaseAsync db, RedisKey key, string holder, TimeSpan lease, CancellationToken cancellationToken) =>
        (int)await s_acquire.EvaluateAsync(db, [key], [holder, (long)lease.TotalMilliseconds]).WaitAsync(cancellationToken) == 1;

    /// <summary>Lets the lease go early, if <paramref name="holder"/> still holds it.</summary>
    public static async Task ReleaseAsync(IDatabaseAsync db, RedisKey key, string holder, CancellationToken cancellationToken) =>
        await s_release.EvaluateAsync(db, [key], [holder]).WaitAsync(cancellationToken);
}
