using System.Collections.Concurrent;

namespace Broker.Storage.Groups;

/// <summary>Committed offsets in process memory, for the embedded mode.</summary>
internal sealed class InMemoryGroupOffsetStore : IGroupOffsetStore
{
    private readonly ConcurrentDictionary<(string Group, string Topic), ConcurrentDictionary<int, CommittedOffset>> _groups = new();

    public Task CommitAsync(string group, string topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken)
    {
        var partitions = _groups.GetOrAdd((group, topic), _ => new ConcurrentDictionary<int, CommittedOffset>());
        lock (partitions)
        {
            foreach (var offset in offsets)
            {
                partitions[offset.Partition] = offset;
            }
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<CommittedOffset>> FetchAsync(string group, string topic, CancellationToken cancellationToken)
    {
        if (!_groups.TryGetValue((group, topic), out var partitions))
        {
            return Task.FromResult<IReadOnlyList<CommittedOffset>>([]);
        }
        lock (partitions)
        {
            return Task.FromResult<IReadOnlyList<CommittedOffset>>([.. partitions.Values.OrderBy(o => o.Partition)]);
        }
    }

    public Task DeleteAsync(string group, string topic, CancellationToken cancellationToken)
    {
        _groups.TryRemove((group, topic), out _);
        return Task.CompletedTask;
    }
}
