using System.Globalization;
using Broker.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Delivery.Groups;

/// <summary>
/// Consumer-group coordination in Redis. A group's subscription to a topic is a few keys under one hash tag
/// "{group|topic}" (one Cluster slot, so each script touches one slot): the members (a sorted set scored by
/// session expiry), their names, the partition leases (a hash: partition → "member expiry"), each partition's lease epoch, and per
/// partition the failed attempts of records not yet settled. Times come from the Redis server's clock
/// (TIME), so instances with skewed clocks still agree on who holds what. Changes are PUBLISHed, so other
/// instances rebalance at once instead of at their next heartbeat.
/// </summary>
internal sealed class RedisGroupCoordinator : IGroupCoordinator, IDisposable
{
    private const string Now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    /// <summary>
    /// KEYS: members, names. ARGV: session ms, key ttl ms, count n, n × (id, name), then ids leaving.
    /// Returns {changed, id1, id2, ...}.
    /// </summary>
    private static readonly RedisScript s_heartbeat = new(Now + """
        local session = tonumber(ARGV[1])
        local n = tonumber(ARGV[3])
        local changed = 0
        local i = 4
        for _ = 1, n do
          if redis.call('ZADD', KEYS[1], now + session, ARGV[i]) == 1 then
            changed = 1
          end
          redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
          i = i + 2
        end
        while i <= #ARGV do
          if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
            changed = 1
          end
          redis.call('HDEL', KEYS[2], ARGV[i])
          i = i + 1
        end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
        if #expired > 0 then
          changed = 1
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
          redis.call('HDEL', KEYS[2], unpack(expired))
        end
        -- A group nobody renews any more leaves no keys behind.
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        local live = redis.call('ZRANGE', KEYS[1], 0, -1)
        table.insert(live, 1, changed)
        return live
        """);

    /// <summary>
    /// KEYS: leases, epochs. ARGV: member, lease ms, key ttl ms, partitions... Returns (partition, epoch) pairs granted.
    /// A lease that changes hands gets a new epoch: the server's time in ms, or one more than the last when that is not
    /// higher, so epochs keep rising even if the epochs key expired meanwhile.
    /// </summary>
    private static readonly RedisScript s_acquire = new(Now + """
        local granted = {}
        for i = 4, #ARGV do
          local p = ARGV[i]
          local current = redis.call('HGET', KEYS[1], p)
          local free = true
          local mine = false
          if current then
            local space = string.find(current, ' ', 1, true)
            local owner = string.sub(current, 1, space - 1)
            if owner == ARGV[1] then
              mine = true
            elseif tonumber(string.sub(current, space + 1)) > now then
              free = false
            end
          end
          if free then
            local epoch = tonumber(redis.call('HGET', KEYS[2], p) or '0')
            if not mine or epoch == 0 then
              epoch = math.max(now, epoch + 1)
              redis.call('HSET', KEYS[2], p, epoch)
            end
            redis.call('HSET', KEYS[1], p, ARGV[1] .. ' ' .. (now + tonumber(ARGV[2])))
            granted[#granted + 1] = tonumber(p)
            granted[#granted + 1] = epoch
          end
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        return granted
        """);

    /// <summary>KEYS: leases. ARGV: member, partitions... Deletes the leases the member still holds.</summary>
    private static readonly RedisScript s_release = new("""
        for i = 2, #ARGV do
          local current = redis.call('HGET', KEYS[1], ARGV[i])
          if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
            redis.call('HDEL', KEYS[1], ARGV[i])
          end
        end
        return 0
        """);

    private static readonly TimeSpan s_failureTtl = TimeSpan.FromDays(7);

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly RedisChannel _changes;
    private readonly long _keyTtlMs;
    private readonly List<Action<GroupTopic>> _watchers = [];
    private readonly Lock _watchersLock = new();
    private readonly ILogger<RedisGroupCoordinator> _logger;
    private int _subscribed;

    public RedisGroupCoordinator(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options, ILogger<RedisGroupCoordinator> logger)
    {
        _redis = redis;
        _logger = logger;
        _prefix = options.Value.KeyPrefix + ":grp:";
        _changes = RedisChannel.Literal(options.Value.KeyPrefix + ":grp:changes");
        // Ten sessions or leases without a heartbeat: the group is gone.
        _keyTtlMs = 10L * Math.Max(options.Value.SessionTimeoutMs, options.Value.LeaseMs);
    }

    private IDatabase Db => _redis.GetDatabase();

    private string Key(GroupTopic key, string suffix) => $"{_prefix}{{{key.Group}|{key.Topic}}}:{suffix}";

    public async Task<(IReadOnlyList<string> Members, bool Changed)> HeartbeatAsync(
        GroupTopic key, IReadOnlyList<MemberInfo> members, IReadOnlyList<string> leaving, TimeSpan session, CancellationToken cancellationToken)
    {
        var values = new RedisValue[3 + (members.Count * 2) + leaving.Count];
        values[0] = (long)session.TotalMilliseconds;
        values[1] = _keyTtlMs;
        values[2] = members.Count;
        var i = 3;
        foreach (var member in members)
        {
            values[i++] = member.MemberId;
            values[i++] = member.Name;
        }
        foreach (var id in leaving)
        {
            values[i++] = id;
        }
        var result = (RedisResult[])(await s_heartbeat.EvaluateAsync(Db, [Key(key, "members"), Key(key, "names")], values).WaitAsync(cancellationToken))!;
        var changed = (long)result[0] == 1;
        var live = new List<string>(result.Length - 1);
        for (var r = 1; r < result.Length; r++)
        {
            live.Add((string)result[r]!);
        }
        live.Sort(StringComparer.Ordinal);
        if (changed)
        {
            await PublishAsync(key);
        }
        return (live, changed);
    }

    public async Task<IReadOnlyList<LeaseGrant>> AcquireAsync(
        GroupTopic key, string memberId, IReadOnlyList<int> partitions, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (partitions.Count == 0)
        {
            return [];
        }
        var values = new RedisValue[3 + partitions.Count];
        values[0] = memberId;
        values[1] = (long)lease.TotalMilliseconds;
        values[2] = _keyTtlMs;
        for (var i = 0; i < partitions.Count; i++)
        {
            values[3 + i] = partitions[i];
        }
        var result = (RedisResult[])(await s_acquire.EvaluateAsync(Db, [Key(key, "leases"), Key(key, "epochs")], values).WaitAsync(cancellationToken))!;
        var grants = new LeaseGrant[result.Length / 2];
        for (var i = 0; i < grants.Length; i++)
        {
            grants[i] = new LeaseGrant((int)result[2 * i], (long)result[(2 * i) + 1]);
        }
        return grants;
    }

    public async Task ReleaseAsync(GroupTopic key, string memberId, IReadOnlyList<int> partitions, CancellationToken cancellationToken)
    {
        if (partitions.Count == 0)
        {
            return;
        }
        var values = new RedisValue[1 + partitions.Count];
        values[0] = memberId;
        for (var i = 0; i < partitions.Count; i++)
        {
            values[1 + i] = partitions[i];
        }
        await s_release.EvaluateAsync(Db, [Key(key, "leases")], values).WaitAsync(cancellationToken);
        // Whoever waits for these partitions can take them now rather than at its next heartbeat.
        await PublishAsync(key);
    }

    public IDisposable Watch(Action<GroupTopic> changed)
    {
        lock (_watchersLock)
        {
            _watchers.Add(changed);
        }
        if (Interlocked.Exchange(ref _subscribed, 1) == 0)
        {
            _redis.GetSubscriber().Subscribe(_changes, (_, message) => OnChange(message));
        }
        return new Unwatch(this, changed);
    }

    private void OnChange(RedisValue message)
    {
        var text = (string?)message;
        var separator = text?.IndexOf('|', StringComparison.Ordinal) ?? -1;
        if (separator <= 0)
        {
            return;
        }
        var key = new GroupTopic(text![..separator], text[(separator + 1)..]);
        Action<GroupTopic>[] watchers;
        lock (_watchersLock)
        {
            watchers = [.. _watchers];
        }
        foreach (var watcher in watchers)
        {
            watcher(key);
        }
    }

    private async Task PublishAsync(GroupTopic key)
    {
        try
        {
            await Db.PublishAsync(_changes, $"{key.Group}|{key.Topic}");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Only a hint: every instance also rebalances at its next heartbeat.
            DeliveryLog.PublishFailed(_logger, key.ToString(), ex.Message);
        }
    }

    public async Task RecordFailureAsync(GroupTopic key, int partition, long offset, FailedAttempts failure, CancellationToken cancellationToken)
    {
        var hash = (RedisKey)Key(key, "failed:" + partition.ToString(CultureInfo.InvariantCulture));
        var value = failure.Attempts.ToString(CultureInfo.InvariantCulture) + " " + failure.LastError;
        var db = Db;
        await Task.WhenAll(
            db.HashSetAsync(hash, offset, value),
            db.KeyExpireAsync(hash, s_failureTtl)).WaitAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<long, FailedAttempts>> LoadFailuresAsync(GroupTopic key, int partition, long fromOffset, CancellationToken cancellationToken)
    {
        var entries = await Db.HashGetAllAsync(Key(key, "failed:" + partition.ToString(CultureInfo.InvariantCulture))).WaitAsync(cancellationToken);
        var failures = new Dictionary<long, FailedAttempts>();
        foreach (var entry in entries)
        {
            var offset = (long)entry.Name;
            var text = (string)entry.Value!;
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            if (offset >= fromOffset && space > 0 && int.TryParse(text.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out var attempts))
            {
                failures[offset] = new FailedAttempts(attempts, text[(space + 1)..]);
            }
        }
        return failures;
    }

    public async Task ForgetFailuresAsync(GroupTopic key, int partition, IReadOnlyList<long> offsets, CancellationToken cancellationToken)
    {
        if (offsets.Count == 0)
        {
            return;
        }
        await Db.HashDeleteAsync(Key(key, "failed:" + partition.ToString(CultureInfo.InvariantCulture)), [.. offsets.Select(o => (RedisValue)o)])
            .WaitAsync(cancellationToken);
    }

    public async Task RegisterAsync(GroupTopic key, CancellationToken cancellationToken) =>
        await Db.SetAddAsync($"{_prefix}{{{key.Group}}}:topics", key.Topic).WaitAsync(cancellationToken);

    public async Task<IReadOnlyList<string>> TopicsOfAsync(string group, CancellationToken cancellationToken)
    {
        var topics = await Db.SetMembersAsync($"{_prefix}{{{group}}}:topics").WaitAsync(cancellationToken);
        return [.. topics.Select(t => (string)t!).Order(StringComparer.Ordinal)];
    }

    public async Task<(IReadOnlyList<MemberInfo> Members, IReadOnlyList<LeaseInfo> Leases)> DescribeAsync(GroupTopic key, CancellationToken cancellationToken)
    {
        var db = Db;
        var membersTask = db.SortedSetRangeByScoreAsync(Key(key, "members"), start: await ServerNowMsAsync(db), stop: double.PositiveInfinity);
        var namesTask = db.HashGetAllAsync(Key(key, "names"));
        var leasesTask = db.HashGetAllAsync(Key(key, "leases"));
        await Task.WhenAll(membersTask, namesTask, leasesTask).WaitAsync(cancellationToken);
        var names = namesTask.Result.ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        var members = membersTask.Result
            .Select(m => (string)m!)
            .Order(StringComparer.Ordinal)
            .Select(id => new MemberInfo(id, names.GetValueOrDefault(id, id)))
            .ToList();
        var leases = new List<LeaseInfo>();
        foreach (var entry in leasesTask.Result)
        {
            var text = (string)entry.Value!;
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            leases.Add(new LeaseInfo((int)entry.Name, text[..space], long.Parse(text.AsSpan(space + 1), CultureInfo.InvariantCulture)));
        }
        leases.Sort((a, b) => a.Partition.CompareTo(b.Partition));
        return (members, leases);
    }

    private static async Task<double> ServerNowMsAsync(IDatabase db)
    {
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return ((long)time[0] * 1000.0) + ((long)time[1] / 1000);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _subscribed, 0) == 1)
        {
            try
            {
                _redis.GetSubscriber().Unsubscribe(_changes, flags: CommandFlags.FireAndForget);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Shutting down: a closed subscription connection has unsubscribed us anyway.
            }
        }
    }

    private sealed class Unwatch(RedisGroupCoordinator owner, Action<GroupTopic> watcher) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._watchersLock)
            {
                owner._watchers.Remove(watcher);
            }
        }
    }
}
