namespace Broker.Storage.Groups;

/// <summary>A consumer group's committed offsets: the next offset it will consume, per (topic, partition).</summary>
public interface IGroupOffsetStore
{
    Task CommitAsync(string group, string topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken);

    /// <summary>Every partition the group committed in the topic.</summary>
    Task<IReadOnlyList<CommittedOffset>> FetchAsync(string group, string topic, CancellationToken cancellationToken);

    Task DeleteAsync(string group, string topic, CancellationToken cancellationToken);
}

public readonly record struct CommittedOffset(int Partition, long Offset, string Metadata);
