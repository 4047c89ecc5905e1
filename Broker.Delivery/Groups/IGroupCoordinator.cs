namespace Broker.Delivery.Groups;

/// <summary>A consumer group's subscription to one topic: the unit of membership, leases and commits.</summary>
public readonly record struct GroupTopic(string Group, string Topic)
{
    public override string ToString() => $"{Group}/{Topic}";
}

/// <summary>A consumer as the group sees it.</summary>
public sealed record MemberInfo(string MemberId, string Name);

/// <summary>Who holds a partition's lease, and until when (Unix milliseconds, the coordinator's clock).</summary>
public sealed record LeaseInfo(int Partition, string MemberId, long ExpiresAtMs);

/// <summary>A delivery that failed: how many attempts the record has had, and the last error.</summary>
public readonly record struct FailedAttempts(int Attempts, string LastError);

/// <summary>
/// Shared state of consumer groups, across every Delivery instance: who is a member (sessions renewed by
/// heartbeats), which member holds which partition (leases, so no two members ever deliver one partition
/// at once), and how often a record has failed (so a record's attempts survive its partition moving).
/// Redis when configured; one instance's memory otherwise.
/// </summary>
public interface IGroupCoordinator
{
    /// <summary>
    /// Renews <paramref name="members"/> (id and name) for <paramref name="session"/>, removes
    /// <paramref name="leaving"/> and every member whose session ran out; answers the live members' ids,
    /// sorted, and whether the membership changed (then every instance is told through <see cref="Watch"/>).
    /// </summary>
    Task<(IReadOnlyList<string> Members, bool Changed)> HeartbeatAsync(
        GroupTopic key, IReadOnlyList<MemberInfo> members, IReadOnlyList<string> leaving, TimeSpan session, CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the leases on <paramref name="partitions"/> for <paramref name="memberId"/>: a lease is
    /// granted when it is free, expired or already the member's. Answers the partitions the member holds now, each with
    /// its lease epoch: the same while the member keeps the lease, higher than every earlier one when it changes hands
    /// (Storage fences commits of older epochs).
    /// </summary>
    Task<IReadOnlyList<LeaseGrant>> AcquireAsync(GroupTopic key, string memberId, IReadOnlyList<int> partitions, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives up the member's leases on <paramref name="partitions"/> (only those it still holds).</summary>
    Task ReleaseAsync(GroupTopic key, string memberId, IReadOnlyList<int> partitions, CancellationToken cancellationToken);

    /// <summary>Calls <paramref name="changed"/> whenever some instance reports a membership or lease change.</summary>
    IDisposable Watch(Action<GroupTopic> changed);

    /// <summary>Records that a record's delivery failed (its attempts so far and the error).</summary>
    Task RecordFailureAsync(GroupTopic key, int partition, long offset, FailedAttempts failure, CancellationToken cancellationToken);

    /// <summary>The failed attempts recorded for a partition at or after <paramref name="fromOffset"/>.</summary>
    Task<IReadOnlyDictionary<long, FailedAttempts>> LoadFailuresAsync(GroupTopic key, int partition, long fromOffset, CancellationToken cancellationToken);

    /// <summary>Forgets failures of records that are settled (acked, dead-lettered or expired).</summary>
    Task ForgetFailuresAsync(GroupTopic key, int partition, IReadOnlyList<long> offsets, CancellationToken cancellationToken);

    /// <summary>Remembers that the group consumes the topic, for describing the group.</summary>
    Task RegisterAsync(GroupTopic key, CancellationToken cancellationToken);

    /// <summary>The topics a group has subscribed to.</summary>
    Task<IReadOnlyList<string>> TopicsOfAsync(string group, CancellationToken cancellationToken);

    /// <summary>The group's live members on the topic and its partitions' leases.</summary>
    Task<(IReadOnlyList<MemberInfo> Members, IReadOnlyList<LeaseInfo> Leases)> DescribeAsync(GroupTopic key, CancellationToken cancellationToken);
}

/// <summary>A partition lease held, and its epoch (the fencing token its commits carry).</summary>
public readonly record struct LeaseGrant(int Partition, long Epoch);
