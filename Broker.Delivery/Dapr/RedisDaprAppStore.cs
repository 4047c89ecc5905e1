using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Delivery.Dapr;

/// <summary>Apps in one Redis hash, <c>{prefix}:dapr:apps</c> (app id → the app as JSON): one key, so Redis Cluster works too.</summary>
internal sealed class RedisDaprAppStore(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options) : IDaprAppStore
{
    private readonly RedisKey _key = $"{options.Value.KeyPrefix}:dapr:apps";

    private IDatabase Db => redis.GetDatabase();

    public async Task<IReadOnlyList<DaprApp>> ListAsync(CancellationToken cancellationToken)
    {
        var entries = await Db.HashGetAllAsync(_key).WaitAsync(cancellationToken);
        return [.. entries.Select(e => DaprAppJson.Deserialize(e.Value!)).OrderBy(a => a.AppId, StringComparer.Ordinal)];
    }

    public async Task<DaprApp?> GetAsync(string appId, CancellationToken cancellationToken)
    {
        var entry = await Db.HashGetAsync(_key, appId).WaitAsync(cancellationToken);
        return entry.IsNull ? null : DaprAppJson.Deserialize(entry!);
    }

    public async Task PutAsync(DaprApp app, CancellationToken cancellationToken) =>
        await Db.HashSetAsync(_key, app.AppId, DaprAppJson.Serialize(app)).WaitAsync(cancellationToken);

    public async Task<bool> DeleteAsync(string appId, CancellationToken cancellationToken) =>
        await Db.HashDeleteAsync(_key, appId).WaitAsync(cancellationToken);
}
