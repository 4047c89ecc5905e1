using System.Collections.Concurrent;
using Broker.Storage.Topics;

namespace Broker.Storage.Groups;

/// <summary>Committed offsets in process memory, for the embedded mode.</summary>
internal sealed class InMemoryGroupOffsetStore : IGroupOffsetStore
{
    private readonly ConcurrentDictionary<(string Group, string TopicId), Partitions> _groups = new();

    public Task<IReadOnlyList<int>> CommitAsync(string group, TopicConfig topic, IReadOnlyList<CommittedOffset> offsets, CancellationToken cancellationToken)
    {
        var partitions = _groups.GetOrAdd((group, topic.Id), _ => new Partitions());
        var fenced = new List<int>();
        lock (partitions)
        {
            foreach (var offset in offsets)
            {
                var epoch = partitions.Epochs.GetValueOrDefault(offset.Partition);
                if (offset.LeaseEpoch > 0 && epoch > offset.LeaseEpoch)
                {
                    fenced.Add(offset.Partition);
                    continue;
                }
                partitions.Epochs[offset.Partition] = Math.Max(epoch, offset.LeaseEpoch);
                partitions.Offsets[offset.Partition] = offset with { LeaseEpoch = 0 };
            }
        }
        return Task.FromResult<IReadOnlyList<int>>(fenced);
    }

    public Task<(IReadOnlyList<CommittedOffset> Offsets, IReadOnlyList<int> Fenced)> FetchAsync(
        string group, TopicConfig topic, IReadOnlyList<PartitionEpoch> fence, CancellationToken cancellationToken)
    {
        var partitions = fence.Count > 0 ? _groups.GetOrAdd((group, topic.Id), _ => new Partitions()) : _groups.GetValueOrDefault((group, topic.Id));
        if (partitions is null)
        {
            return Task.FromResult<(IReadOnlyList<CommittedOffset>, IReadOnlyList<int>)>(([], []));
        }
        var fenced = new List<int>();
        lock (partitions)
        {
            foreach (var (partition, epoch) in fence)
            {
                var held = partitions.Epochs.GetValueOrDefault(partition);
                if (held > epoch)
                {
                    fenced.Add(partition);
                }
                else
                {
                    partitions.Epochs[partition] = epoch;
                }
            }
            IReadOnlyList<CommittedOffset> offsets =
                [.. partitions.Offsets.Values.OrderBy(o => o.Partition).Select(o => o with { LeaseEpoch = partitions.Epochs.GetValueOrDefault(o.Partition) })];
            return Task.FromResult((offsets, (IReadOnlyList<int>)fenced));
        }
    }

    public Task DeleteAsync(string group, TopicConfig topic, CancellationToken cancellationToken)
    {
        _groups.TryRemove((group, topic.Id), out _);
        return Task.CompletedTask;
    }

    public Task DeleteTopicAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        foreach (var key in _groups.Keys.Where(k => k.TopicId == topic.Id))
        {
            _groups.TryRemove(key, out _);
        }
        return Task.CompletedTask;
    }

    private sealed class Partitions
    {
        public Dictionary<int, CommittedOffset> Offsets { get; } = [];
        public Dictionary<int, long> Epochs { get; } = [];
    }
}
