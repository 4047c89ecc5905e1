using Broker.Storage.Topics;

namespace Broker.Storage.Groups;

/// <summary>
/// A consumer group's committed offsets: the next offset it will consume, per (topic, partition). Kept per
/// topic incarnation, so a group never resumes a re-created topic at the old topic's offsets.
/// </summary>
public interface IGroupOffsetStore
{
    Task CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken);

    /// <summary>Every partition the group committed in the topic.</summary>
    Task<IReadOnlyList<CommittedOffset>> FetchAsync(string group, TopicConfig topic, CancellationToken cancellationToken);

    Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken);
}

public readonly record struct CommittedOffset(int Partition, long Offset, string Metadata);
