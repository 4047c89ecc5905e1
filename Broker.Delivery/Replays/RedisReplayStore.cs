using System.Text.Json;
using Broker.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Delivery.Replays;

/// <summary>
/// Jobs in Redis: <c>{prefix}:replays</c> (sorted set of ids by creation time), and per job, under one hash tag so
/// that a script can touch them together on Redis Cluster: <c>{prefix}:replay:{id}</c> (the job as JSON),
/// <c>…:lease</c> ("holder epoch", with a TTL: the instance running it), <c>…:epoch</c> (the newest lease epoch, the
/// fencing token every write of the job is checked against) and <c>…:cancel</c> (a cancel request).
/// <para>
/// Jobs created before the hash tag (<c>{prefix}:replay:id</c>, <c>…:lease</c>, <c>…:cancel</c>) are read under those
/// names and moved to the new ones by the first read that finds no old-style lease on them (every instance's scan reads
/// every job, so the first scan after an upgrade moves them); while an old-style lease exists (an instance of the
/// previous version runs the job) the job is left there and not taken.
/// </para>
/// </summary>
internal sealed class RedisReplayStore(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options) : IReplayStore
{
    private const string Now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    /// <summary>A Lua function: whether the stored job (JSON, or false) has ended.</summary>
    private const string EndedFunction = """
        local function ended(stored)
          if not stored then
            return false
          end
          local ok, job = pcall(cjson.decode, stored)
          if not ok or type(job) ~= 'table' then
            return false
          end
          return job.state == 'Completed' or job.state == 'Failed' or job.state == 'Cancelled'
        end

        """;

    /// <summary>
    /// KEYS: lease, epoch. ARGV: holder, lease ms, epoch held (0: take anew). Answers the epoch held now, or 0. A new
    /// taking gets the server's time in ms, or one more than the newest epoch when that is not higher, so epochs only
    /// rise. A renewal keeps its epoch while nobody else took the lease, even if it lapsed meanwhile.
    /// </summary>
    internal static readonly RedisScript LeaseScript = new(Now + """
        local held = tonumber(ARGV[3])
        local current = redis.call('GET', KEYS[1])
        if current then
          local space = string.find(current, ' ', 1, true)
          if string.sub(current, 1, space - 1) ~= ARGV[1] then
            return 0
          end
          if held > 0 then
            if tonumber(string.sub(current, space + 1)) ~= held then
              return 0
            end
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return held
          end
        end
        local last = tonumber(redis.call('GET', KEYS[2]) or '0')
        if held > 0 then
          if last ~= held then
            return 0
          end
          redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. string.format('%d', held), 'PX', ARGV[2])
          return held
        end
        local epoch = math.max(now, last + 1)
        redis.call('SET', KEYS[2], string.format('%d', epoch))
        redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. string.format('%d', epoch), 'PX', ARGV[2])
        return epoch
        """);

    /// <summary>KEYS: job, epoch. ARGV: epoch, job. Answers 0 saved, 1 fenced (a newer epoch), 2 the job has ended.</summary>
    internal static readonly RedisScript SaveScript = new(EndedFunction + """
        if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then
          return 1
        end
        if ended(redis.call('GET', KEYS[1])) then
          return 2
        end
        redis.call('SET', KEYS[1], ARGV[2])
        return 0
        """);

    /// <summary>KEYS: lease. ARGV: "holder epoch". Drops the lease only if the caller holds it under that epoch.</summary>
    private static readonly RedisScript s_release = new("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
        end
        return 0
        """);

    /// <summary>KEYS: job, lease, epoch. ARGV: job. Writes the job under a new epoch unless leased or ended; 1 when written.</summary>
    private static readonly RedisScript s_cancelIdle = new(Now + EndedFunction + """
        if redis.call('EXISTS', KEYS[2]) == 1 or ended(redis.call('GET', KEYS[1])) then
          return 0
        end
        local epoch = math.max(now, tonumber(redis.call('GET', KEYS[3]) or '0') + 1)
        redis.call('SET', KEYS[3], string.format('%d', epoch))
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
        """);

    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    private RedisKey Index => $"{_prefix}:replays";

    internal RedisKey Job(string id) => $"{_prefix}:replay:{{{id}}}";

    private RedisKey Lease(string id) => $"{_prefix}:replay:{{{id}}}:lease";

    private RedisKey Epoch(string id) => $"{_prefix}:replay:{{{id}}}:epoch";

    private RedisKey Cancel(string id) => $"{_prefix}:replay:{{{id}}}:cancel";

    /// <summary>The names of jobs created before the hash tag.</summary>
    internal RedisKey OldJob(string id) => $"{_prefix}:replay:{id}";

    internal RedisKey OldLease(string id) => $"{_prefix}:replay:{id}:lease";

    internal RedisKey OldCancel(string id) => $"{_prefix}:replay:{id}:cancel";

    public async Task CreateAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        await Db.StringSetAsync(Job(job.Id), Serialize(job)).WaitAsync(cancellationToken);
        await Db.SortedSetAddAsync(Index, job.Id, job.CreatedAt.ToUnixTimeMilliseconds()).WaitAsync(cancellationToken);
    }

    public async Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var json = await Db.StringGetAsync(Job(id)).WaitAsync(cancellationToken);
        if (json.IsNull)
        {
            json = await MigrateAsync(id, cancellationToken);
        }
        return json.IsNull ? null : JsonSerializer.Deserialize((string)json!, ReplayJsonContext.Default.ReplayJob);
    }

    /// <summary>
    /// A job stored under its old name: moved to the new names unless an instance of the previous version holds its
    /// old-style lease (then it is only read). Answers the job, or null when there is none under either name.
    /// </summary>
    private async Task<RedisValue> MigrateAsync(string id, CancellationToken cancellationToken)
    {
        var db = Db;
        var old = await db.StringGetAsync(OldJob(id)).WaitAsync(cancellationToken);
        if (old.IsNull || await db.KeyExistsAsync(OldLease(id)).WaitAsync(cancellationToken))
        {
            return old;
        }
        if (await db.KeyExistsAsync(OldCancel(id)).WaitAsync(cancellationToken))
        {
            await db.StringSetAsync(Cancel(id), "1", TimeSpan.FromDays(7)).WaitAsync(cancellationToken);
        }
        // Another instance may move it at the same time: the first copy wins, both copies are the same.
        await db.StringSetAsync(Job(id), old, when: When.NotExists).WaitAsync(cancellationToken);
        await db.KeyDeleteAsync(OldJob(id)).WaitAsync(cancellationToken); // one key per call: the old names share no slot
        await db.KeyDeleteAsync(OldCancel(id)).WaitAsync(cancellationToken);
        return await db.StringGetAsync(Job(id)).WaitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken)
    {
        var ids = await Db.SortedSetRangeByRankAsync(Index, order: Order.Descending).WaitAsync(cancellationToken);
        var jobs = await Task.WhenAll(ids.Select(id => GetAsync(id!, cancellationToken)));
        return [.. jobs.OfType<ReplayJob>()];
    }

    public async Task<ReplaySave> SaveAsync(ReplayJob job, long epoch, CancellationToken cancellationToken) =>
        (int)await SaveScript.EvaluateAsync(Db, [Job(job.Id), Epoch(job.Id)], [epoch, Serialize(job)]).WaitAsync(cancellationToken) switch
        {
            0 => ReplaySave.Saved,
            1 => ReplaySave.Fenced,
            _ => ReplaySave.Ended,
        };

    public async Task<long> LeaseAsync(string id, string holder, long epoch, TimeSpan lease, CancellationToken cancellationToken)
    {
        // An instance of the previous version runs the job under the old-style lease: not taken meanwhile.
        if (epoch == 0 && await Db.KeyExistsAsync(OldLease(id)).WaitAsync(cancellationToken))
        {
            return 0;
        }
        return (long)await LeaseScript.EvaluateAsync(Db, [Lease(id), Epoch(id)], [holder, (long)lease.TotalMilliseconds, epoch]).WaitAsync(cancellationToken);
    }

    public async Task ReleaseAsync(string id, string holder, long epoch, CancellationToken cancellationToken) =>
        await s_release.EvaluateAsync(Db, [Lease(id)], [$"{holder} {epoch}"]).WaitAsync(cancellationToken);

    public async Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken) =>
        await Db.KeyExistsAsync(Lease(id)).WaitAsync(cancellationToken) || await Db.KeyExistsAsync(OldLease(id)).WaitAsync(cancellationToken);

    public async Task<bool> CancelIdleAsync(ReplayJob job, CancellationToken cancellationToken) =>
        !await Db.KeyExistsAsync(OldLease(job.Id)).WaitAsync(cancellationToken)
        && (int)await s_cancelIdle.EvaluateAsync(Db, [Job(job.Id), Lease(job.Id), Epoch(job.Id)], [Serialize(job)]).WaitAsync(cancellationToken) == 1;

    public async Task RequestCancelAsync(string id, CancellationToken cancellationToken)
    {
        await Db.StringSetAsync(Cancel(id), "1", TimeSpan.FromDays(7)).WaitAsync(cancellationToken);
        if (await Db.KeyExistsAsync(OldLease(id)).WaitAsync(cancellationToken))
        {
            // An instance of the previous version runs it, and looks for the old-style flag.
            await Db.StringSetAsync(OldCancel(id), "1", TimeSpan.FromDays(7)).WaitAsync(cancellationToken);
        }
    }

    public async Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken) =>
        await Db.KeyExistsAsync(Cancel(id)).WaitAsync(cancellationToken) || await Db.KeyExistsAsync(OldCancel(id)).WaitAsync(cancellationToken);

    private static string Serialize(ReplayJob job) => JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob);
}
