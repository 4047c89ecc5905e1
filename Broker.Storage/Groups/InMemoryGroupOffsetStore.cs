using System.Collections.Concurrent;
using Broker.Storage.Topics;

namespace Broker.Storage.Groups;

/// <summary>Committed offsets in process memory, for the embedded mode.</summary>
internal sealed class InMemoryGroupOffsetStore : IGroupOffsetStore
{
    private readonly ConcurrentDictionary<(string Group, string TopicId), ConcurrentDictionary<int, CommittedOffset>> _groups = new();

    public Task CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken)
    {
        var partitions = _groups.GetOrAdd((group, topic.Id), _ => new ConcurrentDictionary<int, CommittedOffset>());
        lock (partitions)
        {
            foreach (var offset in offsets)
            {
                partitions[offset.Partition] = offset;
            }
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<CommittedOffset>> FetchAsync(string group, TopicConfig topic, CancellationToken cancellationToken)
    {
        if (!_groups.TryGetValue((group, topic.Id), out var partitions))
        {
            return Task.FromResult<IReadOnlyList<CommittedOffset>>([]);
        }
        lock (partitions)
        {
            return Task.FromResult<IReadOnlyList<CommittedOffset>>([.. partitions.Values.OrderBy(o => o.Partition)]);
        }
    }

    public Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken)
    {
        _groups.TryRemove((group, topic.Id), out _);
        return Task.CompletedTask;
    }
}
