using Broker.Delivery.Groups;
using Broker.Delivery.StorageAccess;
using Grpc.Core;

namespace Broker.Delivery.Consuming;

/// <summary>
/// A group's subscription to one topic on this instance: the local consumers, the heartbeat that keeps
/// them members, the rebalance that hands partitions over (revoked partitions drain their in-flight
/// records, commit and release their lease before another consumer may take them), and the committer that
/// stores each partition's settled prefix in Storage, at most once per Delivery:CommitIntervalMs.
/// </summary>
internal sealed class GroupSession : IDisposable
{
    private readonly GroupSessions _registry;
    private readonly ConsumerServices _services;
    private readonly Lock _lock = new();
    private readonly List<ConsumerMember> _members = [];
    private readonly List<string> _leaving = [];
    private readonly AsyncSignal _wake = new();
    private readonly AsyncSignal _commitWake = new();
    private readonly Lock _dirtyLock = new();
    private readonly HashSet<PartitionConsumer> _dirty = [];
    private readonly SemaphoreSlim _commitGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private bool _closed;
    private Task _running = Task.CompletedTask;
    private int _leavesUnderWay;
    private int _ticks;

    public GroupSession(GroupTopic key, TopicDescription topic, GroupSessions registry, ConsumerServices services)
    {
        Key = key;
        Topic = topic;
        _registry = registry;
        _services = services;
    }

    public GroupTopic Key { get; }

    /// <summary>The topic's partitions and delivery settings, refreshed every few heartbeats.</summary>
    public TopicDescription Topic { get; private set; }

    public IReadOnlyList<ConsumerMember> Members
    {
        get
        {
            lock (_lock)
            {
                return [.. _members];
            }
        }
    }

    public void Start()
    {
        var committing = CommitLoopAsync(_stop.Token);
        _running = RunAsync(committing);
    }

    /// <summary>Stops the session's loops (its consumers have left) and tells the coordinator who left, at shutdown.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        string[] leaving;
        lock (_lock)
        {
            _closed = true;
            leaving = [.. _leaving];
            _leaving.Clear();
        }
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }
        await _running;
        if (leaving.Length > 0)
        {
            try
            {
                await _services.Coordinator.HeartbeatAsync(Key, [], leaving, TimeSpan.FromMilliseconds(_services.Options.SessionTimeoutMs), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Their sessions run out by themselves.
                DeliveryLog.RebalanceFailed(_services.Logger, Key.ToString(), ex.Message);
            }
        }
    }

    /// <summary>Adds a consumer; false when the session is closing (the caller makes a new one).</summary>
    public bool TryAdd(ConsumerMember member)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }
            _members.Add(member);
            member.Session = this;
        }
        Wake();
        return true;
    }

    public void Wake() => _wake.Set();

    public void MarkDirty(PartitionConsumer partition)
    {
        lock (_dirtyLock)
        {
            _dirty.Add(partition);
        }
        _commitWake.Set();
    }

    /// <summary>
    /// The consumer leaves: its partitions commit what was settled and are released at once. Every caller
    /// (its transport ending, the service stopping) waits for the same leave.
    /// </summary>
    public Task LeaveAsync(ConsumerMember member)
    {
        lock (_lock)
        {
            if (member.Leaving is { } underWay)
            {
                return underWay;
            }
            if (!_members.Remove(member))
            {
                return Task.CompletedTask;
            }
            _leaving.Add(member.Id);
            _leavesUnderWay++;
            return member.Leaving = LeaveCoreAsync(member);
        }
    }

    private async Task LeaveCoreAsync(ConsumerMember member)
    {
        await Task.Yield();
        try
        {
            await Task.WhenAll(member.BeginLeave().Select(p => StopPartitionAsync(member, p, commit: true, release: true)));
        }
        catch (Exception ex)
        {
            // Its leases then run out by themselves; the next owner starts from the last commit.
            DeliveryLog.LeaveFailed(_services.Logger, member.Id, Key.ToString(), ex.Message);
        }
        finally
        {
            member.Left();
            member.Dispose();
            _registry.Forget(member);
            DeliveryLog.MemberLeft(_services.Logger, member.Id, Key.Group, Key.Topic);
            lock (_lock)
            {
                _leavesUnderWay--;
            }
            Wake();
        }
    }

    private async Task RunAsync(Task committing)
    {
        var heartbeat = TimeSpan.FromMilliseconds(_services.Options.HeartbeatIntervalMs);
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _wake.WaitAsync(heartbeat, token);
                try
                {
                    await TickAsync(token);
                }
                catch (Exception ex) when (!token.IsCancellationRequested)
                {
                    DeliveryLog.RebalanceFailed(_services.Logger, Key.ToString(), ex.Message);
                }
                lock (_lock)
                {
                    // Closed only once every leave has committed and released, and the coordinator has heard of it.
                    if (_members.Count == 0 && _leaving.Count == 0 && _leavesUnderWay == 0)
                    {
                        _closed = true;
                    }
                }
                if (_closed)
                {
                    break;
                }
            }
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
            // Stopping: a tick cut short ends however its call under way ended (cancelled, or the channel torn down).
        }
        finally
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
            }
            await committing;
            _registry.Closed(this);
        }
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        ConsumerMember[] members;
        string[] leaving;
        lock (_lock)
        {
            members = [.. _members];
            leaving = [.. _leaving];
            _leaving.Clear();
        }
        IReadOnlyList<string> live;
        try
        {
            (live, _) = await _services.Coordinator.HeartbeatAsync(Key, [.. members.Select(m => new MemberInfo(m.Id, m.Name))], leaving,
                TimeSpan.FromMilliseconds(_services.Options.SessionTimeoutMs), cancellationToken);
        }
        catch
        {
            lock (_lock)
            {
                _leaving.AddRange(leaving);
            }
            throw;
        }
        if (members.Length == 0)
        {
            return;
        }
        if (++_ticks % 10 == 0)
        {
            var topic = await _services.Log.DescribeAsync(Key.Topic, cancellationToken);
            if (topic is null)
            {
                foreach (var member in members)
                {
                    member.Fail(new RpcException(new Status(StatusCode.NotFound, $"Topic '{Key.Topic}' no longer exists.")));
                }
                return;
            }
            Topic = topic;
        }
        var desired = Assignment.Assign(live, Topic.Partitions);
        await Task.WhenAll(members.Select(m => RebalanceAsync(m, desired.TryGetValue(m.Id, out var mine) ? mine : [], cancellationToken)));
    }

    private async Task RebalanceAsync(ConsumerMember member, List<int> desired, CancellationToken cancellationToken)
    {
        var options = _services.Options;
        var now = _services.NowMs;
        var changed = false;
        foreach (var partition in member.PartitionConsumers)
        {
            if (!desired.Contains(partition.Partition) && !partition.Revoking)
            {
                lock (member.Sync)
                {
                    partition.BeginRevoke(now + options.RevokeDrainMs);
                }
                changed = true;
            }
        }
        foreach (var partition in member.PartitionConsumers)
        {
            if (partition.Revoking && (partition.InFlight == 0 || now >= partition.RevokeDeadline))
            {
                await StopPartitionAsync(member, partition, commit: true, release: true);
            }
        }

        var owned = member.PartitionConsumers.ToDictionary(p => p.Partition);
        var want = desired.Union(owned.Keys).ToList();
        var started = _services.NowMs;
        var granted = (await _services.Coordinator.AcquireAsync(Key, member.Id, want, TimeSpan.FromMilliseconds(options.LeaseMs), cancellationToken))
            .ToDictionary(g => g.Partition, g => g.Epoch);
        // Renewed at `started` by the coordinator's clock at the latest; keep a heartbeat's margin for clock drift and delays.
        var validUntil = started + options.LeaseMs - options.HeartbeatIntervalMs;
        var lapsed = false;
        foreach (var (number, partition) in owned)
        {
            if (granted.TryGetValue(number, out var epoch) && epoch == partition.Epoch)
            {
                lock (member.Sync)
                {
                    lapsed |= partition.LeaseValidUntil <= _services.NowMs;
                    partition.LeaseValidUntil = validUntil;
                }
            }
            else
            {
                // Our lease ran out and someone else holds it now (or held it meanwhile: a new epoch), so what this partition
                // holds is stale: stop without committing over them. A lease ours again starts afresh at the next tick.
                DeliveryLog.LeaseLost(_services.Logger, member.Id, Key.ToString(), number);
                await StopPartitionAsync(member, partition, commit: false, release: false);
                changed = true;
            }
        }
        if (lapsed)
        {
            // A late renewal (a slow Redis, a stalled instance) let a lease lapse, and nothing is handed out while it
            // is lapsed: records that fell due meanwhile (a retry, a fetch) wait for this wake, nothing else sends one.
            member.Wake();
        }
        var fresh = granted.Keys.Where(p => !owned.ContainsKey(p) && desired.Contains(p)).ToList();
        await Task.WhenAll(fresh.Select(async number =>
        {
            var partition = new PartitionConsumer(member, number, _services) { LeaseValidUntil = validUntil, Epoch = granted[number] };
            try
            {
                await partition.StartAsync(Topic, member.Spec.Start, cancellationToken);
                if (!member.TryAdd(partition))
                {
                    // It left while the partition started: let go of it again, as its leave did for the others.
                    await partition.StopAsync();
                    await _services.Coordinator.ReleaseAsync(Key, member.Id, [number], CancellationToken.None);
                }
            }
            catch (Exception ex)
            {
                // Stopped or failed part-way: nothing of it was handed out, so let the lease go for the next owner.
                if (!cancellationToken.IsCancellationRequested)
                {
                    DeliveryLog.PartitionStartFailed(_services.Logger, member.Id, Key.ToString(), number, ex.Message);
                }
                await partition.StopAsync();
                await _services.Coordinator.ReleaseAsync(Key, member.Id, [number], CancellationToken.None);
            }
        }));
        if (changed || fresh.Count > 0)
        {
            DeliveryLog.Assigned(_services.Logger, member.Id, Key.Group, Key.Topic, string.Join(",", member.Partitions));
            member.RaiseAssignmentChanged();
        }
    }

    private async Task StopPartitionAsync(ConsumerMember member, PartitionConsumer partition, bool commit, bool release)
    {
        if (!member.Remove(partition))
        {
            return;
        }
        await partition.StopAsync();
        if (commit)
        {
            await CommitAsync([partition], CancellationToken.None);
        }
        if (release)
        {
            await _services.Coordinator.ReleaseAsync(Key, member.Id, [partition.Partition], CancellationToken.None);
        }
        member.RaiseAssignmentChanged();
    }

    private async Task CommitLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var interval = TimeSpan.FromMilliseconds(_services.Options.CommitIntervalMs);
            while (!cancellationToken.IsCancellationRequested)
            {
                await _commitWake.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
                // Acks keep coming for a while: gather them into one commit rather than one commit per ack.
                await Task.Delay(interval, _services.Time, cancellationToken);
                PartitionConsumer[] dirty;
                lock (_dirtyLock)
                {
                    dirty = [.. _dirty];
                    _dirty.Clear();
                }
                var (committed, fenced) = await CommitAsync(dirty, cancellationToken);
                foreach (var partition in fenced)
                {
                    // Another member's newer lease holds it: this one is a zombie there (it was paused or cut off from
                    // the coordinator), so it lets go without committing or delivering more.
                    DeliveryLog.Fenced(_services.Logger, partition.Member.Id, Key.ToString(), partition.Partition, partition.Epoch);
                    await StopPartitionAsync(partition.Member, partition, commit: false, release: false);
                }
                if (!committed)
                {
                    foreach (var partition in dirty)
                    {
                        MarkDirty(partition);
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _services.Time, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Commits the partitions' settled prefixes that moved, each under its lease epoch; one commit at a time, so none is
    /// overtaken by an older one. Answers whether the commit went through, and the partitions Storage fenced (a newer
    /// lease holds them; their offsets were not stored).
    /// </summary>
    private async Task<(bool Committed, List<PartitionConsumer> Fenced)> CommitAsync(PartitionConsumer[] partitions, CancellationToken cancellationToken)
    {
        var fenced = new List<PartitionConsumer>();
        await _commitGate.WaitAsync(cancellationToken);
        try
        {
            var offsets = new List<(int Partition, long Offset, long Epoch)>(partitions.Length);
            var moved = new List<PartitionConsumer>(partitions.Length);
            foreach (var partition in partitions)
            {
                lock (partition.Member.Sync)
                {
                    if (partition.CommitOffset > partition.CommittedOffset)
                    {
                        offsets.Add((partition.Partition, partition.CommitOffset, partition.Epoch));
                        moved.Add(partition);
                    }
                }
            }
            if (offsets.Count == 0)
            {
                return (true, fenced);
            }
            var refused = await _services.Log.CommitAsync(Key.Group, Key.Topic, offsets, cancellationToken);
            for (var i = 0; i < moved.Count; i++)
            {
                if (refused.Contains(offsets[i].Partition))
                {
                    fenced.Add(moved[i]);
                    continue;
                }
                List<long> forget;
                lock (moved[i].Member.Sync)
                {
                    moved[i].CommittedOffset = Math.Max(moved[i].CommittedOffset, offsets[i].Offset);
                    forget = moved[i].TakeForgettable(offsets[i].Offset);
                }
                if (forget.Count > 0)
                {
                    await _services.Coordinator.ForgetFailuresAsync(Key, moved[i].Partition, forget, cancellationToken);
                }
            }
            return (true, fenced);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            DeliveryLog.CommitFailed(_services.Logger, Key.ToString(), ex.Message);
            return (false, fenced);
        }
        finally
        {
            _commitGate.Release();
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _commitGate.Dispose();
    }
}
