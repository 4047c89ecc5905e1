namespace Broker.Storage.Topics;

/// <summary>Where topic configurations live (Redis, or process memory for the embedded mode).</summary>
public interface ITopicStore
{
    Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new topic; false when a topic of that name already exists.</summary>
    Task<bool> TryCreateAsync(TopicConfig config, CancellationToken cancellationToken);

    /// <summary>Replaces <paramref name="current"/> with <paramref name="updated"/>; false when the stored topic is no longer <paramref name="current"/>.</summary>
    Task<bool> TryUpdateAsync(TopicConfig current, TopicConfig updated, CancellationToken cancellationToken);

    /// <summary>Removes a topic's configuration; false when there was none.</summary>
    Task<bool> DeleteAsync(string name, CancellationToken cancellationToken);

    Task<long> CountAsync(CancellationToken cancellationToken);
}
