using Broker.Storage.Topics;

namespace Broker.Storage.Groups;

/// <summary>
/// A consumer group's committed offsets: the next offset it will consume, per (topic, partition). Kept per
/// topic incarnation, so a group never resumes a re-created topic at the old topic's offsets. Each partition also keeps
/// the highest lease epoch seen (fencing): an offset committed under an older lease than that is refused, so a consumer
/// whose partition was taken over (paused, cut off from the coordinator) cannot move the group's position any more.
/// </summary>
public interface IGroupOffsetStore
{
    /// <summary>
    /// Stores the offsets; answers the partitions refused because a higher lease epoch holds them (the rest are stored).
    /// An offset without an epoch (0) is never refused.
    /// </summary>
    Task<IReadOnlyList<int>> CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken);

    /// <summary>
    /// Every partition the group committed, after raising the epochs in <paramref name="fence"/> (a new owner's leases);
    /// answers the fenced partitions a higher epoch already holds.
    /// </summary>
    Task<(IReadOnlyList<CommittedOffset> Offsets, IReadOnlyList<int> Fenced)> FetchAsync(
        string group, TopicConfig topic, IReadOnlyList<PartitionEpoch> fence, CancellationToken cancellationToken);

    Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken);

    /// <summary>Forgets every group's offsets in the topic (it was deleted; a re-created topic is a new incarnation).</summary>
    Task DeleteTopicAsync(TopicConfig topic, CancellationToken cancellationToken);
}

/// <summary>A partition's committed offset, its metadata, and the lease epoch it was committed under (0: none).</summary>
public readonly record struct CommittedOffset(int Partition, long Offset, string Metadata, long LeaseEpoch = 0);

/// <summary>A partition and a lease epoch on it.</summary>
public readonly record struct PartitionEpoch(int Partition, long Epoch);
