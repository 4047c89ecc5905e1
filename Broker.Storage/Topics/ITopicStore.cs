namespace Broker.Storage.Topics;

/// <summary>
/// Where topic configurations live (Redis, or process memory for the embedded mode). Creating, growing and
/// deleting a topic keep the broker's totals (topics, partitions) in the same atomic step, so the limits
/// Storage:MaxTopics and Storage:MaxPartitions hold however many Storage instances create topics at once.
/// </summary>
public interface ITopicStore
{
    Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new topic unless one of that name exists or it would pass a limit (nothing stored then).</summary>
    Task<TopicWrite> TryCreateAsync(TopicConfig config, TopicLimits limits, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces <paramref name="current"/> with <paramref name="updated"/> unless the stored topic is no longer
    /// <paramref name="current"/> (<see cref="TopicWriteStatus.Conflict"/>) or the added partitions would pass the limit.
    /// </summary>
    Task<TopicWrite> TryUpdateAsync(TopicConfig current, TopicConfig updated, TopicLimits limits, CancellationToken cancellationToken);

    /// <summary>Removes the topic's configuration if it is still this incarnation (its id); its partitions leave the totals. False when it was not.</summary>
    Task<bool> DeleteAsync(TopicConfig topic, CancellationToken cancellationToken);

    /// <summary>How many topics and partitions the broker holds now.</summary>
    Task<TopicTotals> TotalsAsync(CancellationToken cancellationToken);
}

/// <summary>The broker-wide limits a write must keep (Storage:MaxTopics, Storage:MaxPartitions).</summary>
public readonly record struct TopicLimits(long MaxTopics, long MaxPartitions);

/// <summary>The broker's topics and partitions, over every topic.</summary>
public readonly record struct TopicTotals(long Topics, long Partitions);

public enum TopicWriteStatus
{
    Written,
    /// <summary>Create: a topic of that name exists. Update: the stored topic changed (or went) since it was read.</summary>
    Conflict,
    TooManyTopics,
    TooManyPartitions,
}

/// <summary>What a write did, and the totals it saw (after the write when written, else before).</summary>
public readonly record struct TopicWrite(TopicWriteStatus Status, TopicTotals Totals);
