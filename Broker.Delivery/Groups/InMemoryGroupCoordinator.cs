namespace Broker.Delivery.Groups;

/// <summary>
/// Consumer-group coordination in this process's memory: for one Delivery instance without Redis (the
/// one-command local run). Same rules as <see cref="RedisGroupCoordinator"/>; nothing survives a restart
/// and several instances would not see each other.
/// </summary>
internal sealed class InMemoryGroupCoordinator(TimeProvider time) : IGroupCoordinator
{
    private readonly Lock _lock = new();
    private readonly Dictionary<GroupTopic, GroupState> _groups = [];
    private readonly Dictionary<string, SortedSet<string>> _topicsByGroup = [];
    private readonly List<Action<GroupTopic>> _watchers = [];

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private GroupState State(GroupTopic key)
    {
        if (!_groups.TryGetValue(key, out var state))
        {
            _groups[key] = state = new GroupState();
        }
        return state;
    }

    public Task<(IReadOnlyList<string> Members, bool Changed)> HeartbeatAsync(
        GroupTopic key, IReadOnlyList<MemberInfo> members, IReadOnlyList<string> leaving, TimeSpan session, CancellationToken cancellationToken)
    {
        bool changed;
        List<string> live;
        lock (_lock)
        {
            var state = State(key);
            var now = NowMs;
            changed = false;
            foreach (var member in members)
            {
                changed |= !state.Members.ContainsKey(member.MemberId);
                state.Members[member.MemberId] = (member.Name, now + (long)session.TotalMilliseconds);
            }
            foreach (var id in leaving)
            {
                changed |= state.Members.Remove(id);
            }
            foreach (var (id, member) in state.Members.ToList())
            {
                if (member.ExpiresAt <= now)
                {
                    state.Members.Remove(id);
                    changed = true;
                }
            }
            live = [.. state.Members.Keys.Order(StringComparer.Ordinal)];
        }
        if (changed)
        {
            Notify(key);
        }
        return Task.FromResult<(IReadOnlyList<string>, bool)>((live, changed));
    }

    public Task<IReadOnlyList<LeaseGrant>> AcquireAsync(GroupTopic key, string memberId, IReadOnlyList<int> partitions, TimeSpan lease, CancellationToken cancellationToken)
    {
        var granted = new List<LeaseGrant>(partitions.Count);
        lock (_lock)
        {
            var state = State(key);
            var now = NowMs;
            foreach (var partition in partitions)
            {
                var held = state.Leases.TryGetValue(partition, out var current);
                if (!held || current.MemberId == memberId || current.ExpiresAt <= now)
                {
                    var epoch = state.Epochs.GetValueOrDefault(partition);
                    if (!held || current.MemberId != memberId || epoch == 0)
                    {
                        state.Epochs[partition] = epoch = Math.Max(now, epoch + 1); // a new holder: a higher epoch
                    }
                    state.Leases[partition] = (memberId, now + (long)lease.TotalMilliseconds);
                    granted.Add(new LeaseGrant(partition, epoch));
                }
            }
        }
        return Task.FromResult<IReadOnlyList<LeaseGrant>>(granted);
    }

    public Task ReleaseAsync(GroupTopic key, string memberId, IReadOnlyList<int> partitions, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var state = State(key);
            foreach (var partition in partitions)
            {
                if (state.Leases.TryGetValue(partition, out var current) && current.MemberId == memberId)
                {
                    state.Leases.Remove(partition);
                }
            }
        }
        Notify(key);
        return Task.CompletedTask;
    }

    public IDisposable Watch(Action<GroupTopic> changed)
    {
        lock (_lock)
        {
            _watchers.Add(changed);
        }
        return new Unwatch(this, changed);
    }

    private void Notify(GroupTopic key)
    {
        Action<GroupTopic>[] watchers;
        lock (_lock)
        {
            watchers = [.. _watchers];
        }
        foreach (var watcher in watchers)
        {
            watcher(key);
        }
    }

    public Task RecordFailureAsync(GroupTopic key, int partition, long offset, FailedAttempts failure, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            State(key).Failures[(partition, offset)] = failure;
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<long, FailedAttempts>> LoadFailuresAsync(GroupTopic key, int partition, long fromOffset, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyDictionary<long, FailedAttempts> failures = State(key).Failures
                .Where(f => f.Key.Partition == partition && f.Key.Offset >= fromOffset)
                .ToDictionary(f => f.Key.Offset, f => f.Value);
            return Task.FromResult(failures);
        }
    }

    public Task ForgetFailuresAsync(GroupTopic key, int partition, IReadOnlyList<long> offsets, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var failures = State(key).Failures;
            foreach (var offset in offsets)
            {
                failures.Remove((partition, offset));
            }
        }
        return Task.CompletedTask;
    }

    public Task RegisterAsync(GroupTopic key, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_topicsByGroup.TryGetValue(key.Group, out var topics))
            {
                _topicsByGroup[key.Group] = topics = new SortedSet<string>(StringComparer.Ordinal);
            }
            topics.Add(key.Topic);
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> TopicsOfAsync(string group, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>(_topicsByGroup.TryGetValue(group, out var topics) ? [.. topics] : []);
        }
    }

    public Task<(IReadOnlyList<MemberInfo> Members, IReadOnlyList<LeaseInfo> Leases)> DescribeAsync(GroupTopic key, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var state = State(key);
            var now = NowMs;
            IReadOnlyList<MemberInfo> members = [.. state.Members
                .Where(m => m.Value.ExpiresAt > now)
                .OrderBy(m => m.Key, StringComparer.Ordinal)
                .Select(m => new MemberInfo(m.Key, m.Value.Name))];
            IReadOnlyList<LeaseInfo> leases = [.. state.Leases.OrderBy(l => l.Key).Select(l => new LeaseInfo(l.Key, l.Value.MemberId, l.Value.ExpiresAt))];
            return Task.FromResult((members, leases));
        }
    }

    private sealed class GroupState
    {
        public Dictionary<string, (string Name, long ExpiresAt)> Members { get; } = [];
        public Dictionary<int, (string MemberId, long ExpiresAt)> Leases { get; } = [];
        public Dictionary<int, long> Epochs { get; } = [];
        public Dictionary<(int Partition, long Offset), FailedAttempts> Failures { get; } = [];
    }

    private sealed class Unwatch(InMemoryGroupCoordinator owner, Action<GroupTopic> watcher) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._watchers.Remove(watcher);
            }
        }
    }
}
