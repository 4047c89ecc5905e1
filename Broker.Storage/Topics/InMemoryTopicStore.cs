using System.Collections.Concurrent;

namespace Broker.Storage.Topics;

/// <summary>Topic configurations in process memory: the embedded mode, gone when the process ends.</summary>
internal sealed class InMemoryTopicStore : ITopicStore
{
    private readonly ConcurrentDictionary<string, TopicConfig> _topics = new(StringComparer.Ordinal);

    public Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(_topics.GetValueOrDefault(name));

    public Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TopicConfig>>([.. _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)]);

    public Task<bool> TryCreateAsync(TopicConfig config, CancellationToken cancellationToken) =>
        Task.FromResult(_topics.TryAdd(config.Name, config));

    public Task<bool> TryUpdateAsync(TopicConfig current, TopicConfig updated, CancellationToken cancellationToken) =>
        Task.FromResult(_topics.TryUpdate(current.Name, updated, current));

    public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(_topics.TryRemove(name, out _));

    public Task<long> CountAsync(CancellationToken cancellationToken) => Task.FromResult((long)_topics.Count);
}
