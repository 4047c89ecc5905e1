using System.Text.Json;
using Broker.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Delivery.Replays;

/// <summary>
/// Jobs in Redis: <c>{prefix}:replays</c> (sorted set of ids by creation time), <c>{prefix}:replay:{id}</c> (the
/// job as JSON), <c>…:lease</c> (the instance running it, with a TTL) and <c>…:cancel</c> (a cancel request).
/// Every call touches one key, so it works on Redis Cluster too.
/// </summary>
internal sealed class RedisReplayStore(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options) : IReplayStore
{
    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    private RedisKey Index => $"{_prefix}:replays";

    private RedisKey Job(string id) => $"{_prefix}:replay:{id}";

    private RedisKey Lease(string id) => $"{_prefix}:replay:{id}:lease";

    private RedisKey Cancel(string id) => $"{_prefix}:replay:{id}:cancel";

    public async Task CreateAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        await SaveAsync(job, cancellationToken);
        await Db.SortedSetAddAsync(Index, job.Id, job.CreatedAt.ToUnixTimeMilliseconds()).WaitAsync(cancellationToken);
    }

    public async Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var json = await Db.StringGetAsync(Job(id)).WaitAsync(cancellationToken);
        return json.IsNull ? null : JsonSerializer.Deserialize((string)json!, ReplayJsonContext.Default.ReplayJob);
    }

    public async Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken)
    {
        var ids = await Db.SortedSetRangeByRankAsync(Index, order: Order.Descending).WaitAsync(cancellationToken);
        var jobs = await Task.WhenAll(ids.Select(id => GetAsync(id!, cancellationToken)));
        return [.. jobs.OfType<ReplayJob>()];
    }

    public async Task SaveAsync(ReplayJob job, CancellationToken cancellationToken) =>
        await Db.StringSetAsync(Job(job.Id), JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob)).WaitAsync(cancellationToken);

    public Task<bool> LeaseAsync(string id, string holder, TimeSpan lease, CancellationToken cancellationToken) =>
        RedisLease.AcquireAsync(Db, Lease(id), holder, lease, cancellationToken);

    public Task ReleaseAsync(string id, string holder, CancellationToken cancellationToken) =>
        RedisLease.ReleaseAsync(Db, Lease(id), holder, cancellationToken);

    public async Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken) =>
        await Db.KeyExistsAsync(Lease(id)).WaitAsync(cancellationToken);

    public async Task RequestCancelAsync(string id, CancellationToken cancellationToken) =>
        await Db.StringSetAsync(Cancel(id), "1", TimeSpan.FromDays(7)).WaitAsync(cancellationToken);

    public async Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken) =>
        await Db.KeyExistsAsync(Cancel(id)).WaitAsync(cancellationToken);
}
