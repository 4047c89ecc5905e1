using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Broker.Delivery.Groups;
using Grpc.Core;

namespace Broker.Delivery.Consuming;

/// <summary>
/// Every consumer and group session on this instance. Consumers join through it (the topic must exist),
/// it routes the coordinator's change notices to the sessions concerned, finds a consumer by the member id
/// in a delivery id, feeds the lag gauge, and on shutdown lets every consumer leave cleanly (final
/// commits, leases released) so the group moves on at once.
/// </summary>
internal sealed class GroupSessions(ConsumerServices services) : IHostedService
{
    private readonly ConcurrentDictionary<GroupTopic, GroupSession> _sessions = new();
    private readonly ConcurrentDictionary<string, ConsumerMember> _members = new(StringComparer.Ordinal);
    private long _memberSequence;
    private IDisposable? _watch;
    private Task? _stopping;

    /// <summary>This instance's id: the first part of every member id it makes.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N")[..8];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = services.Coordinator.Watch(key =>
        {
            if (_sessions.TryGetValue(key, out var session))
            {
                session.Wake();
            }
        });
        services.Metrics.LagSource = ObserveLag;
        return Task.CompletedTask;
    }

    /// <summary>Lets every consumer leave and closes the sessions; a second call (hosts may stop twice) waits for the first.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_members)
        {
            return _stopping ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        _watch?.Dispose();
        try
        {
            await Task.WhenAll(_members.Values.Select(m => m.Session?.LeaveAsync(m) ?? Task.CompletedTask)).WaitAsync(cancellationToken);
        }
        finally
        {
            // Nothing of a session may run once the host has disposed what it uses.
            await Task.WhenAll(_sessions.Values.Select(s => s.CloseAsync(cancellationToken)));
            foreach (var session in _sessions.Values)
            {
                session.Dispose();
            }
        }
    }

    /// <summary>Adds a consumer to its group. NOT_FOUND when the topic does not exist.</summary>
    public async Task<ConsumerMember> JoinAsync(SubscriptionSpec spec, CancellationToken cancellationToken)
    {
        var topic = await services.Log.DescribeAsync(spec.Topic, cancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Topic '{spec.Topic}' does not exist."));
        var key = new GroupTopic(spec.Group, spec.Topic);
        await services.Coordinator.RegisterAsync(key, cancellationToken);
        var member = new ConsumerMember($"{InstanceId}-{Interlocked.Increment(ref _memberSequence)}", spec, services);
        _members[member.Id] = member;
        while (true)
        {
            if (!_sessions.TryGetValue(key, out var session))
            {
                var created = new GroupSession(key, topic, this, services);
                session = _sessions.GetOrAdd(key, created);
                if (ReferenceEquals(session, created))
                {
                    created.Start();
                }
            }
            if (session.TryAdd(member))
            {
                break;
            }
            _sessions.TryRemove(new KeyValuePair<GroupTopic, GroupSession>(key, session));
        }
        DeliveryLog.MemberJoined(services.Logger, member.Id, member.Name, spec.Group, spec.Topic, spec.Mode.ToString(), spec.Window);
        return member;
    }

    public Task LeaveAsync(ConsumerMember member) => member.Session?.LeaveAsync(member) ?? Task.CompletedTask;

    /// <summary>The consumer with this member id, if it is on this instance.</summary>
    public ConsumerMember? Find(string memberId) => _members.GetValueOrDefault(memberId);

    public IReadOnlyList<ConsumerMember> Members(GroupTopic key) =>
        _sessions.TryGetValue(key, out var session) ? session.Members : [];

    internal void Forget(ConsumerMember member) => _members.TryRemove(new KeyValuePair<string, ConsumerMember>(member.Id, member));

    /// <summary>A session that ran out of consumers is gone; the next consumer of its group and topic starts a new one.</summary>
    internal void Closed(GroupSession session)
    {
        if (_sessions.TryRemove(new KeyValuePair<GroupTopic, GroupSession>(session.Key, session)))
        {
            session.Dispose();
        }
    }

    private IEnumerable<Measurement<long>> ObserveLag()
    {
        foreach (var member in _members.Values)
        {
            foreach (var partition in member.PartitionConsumers)
            {
                long lag;
                lock (member.Sync)
                {
                    lag = Math.Max(0, partition.EndOffset - partition.CommitOffset);
                }
                yield return new Measurement<long>(lag,
                    new("messaging.destination.name", member.Key.Topic),
                    new("messaging.consumer.group.name", member.Key.Group),
                    new("messaging.destination.partition.id", partition.Partition));
            }
        }
    }
}
