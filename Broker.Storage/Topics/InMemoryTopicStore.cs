namespace Broker.Storage.Topics;

/// <summary>Topic configurations in process memory: the embedded mode, gone when the process ends. One lock keeps the totals exact.</summary>
internal sealed class InMemoryTopicStore : ITopicStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TopicConfig> _topics = new(StringComparer.Ordinal);
    private long _partitions;

    public Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_topics.GetValueOrDefault(name));
        }
    }

    public Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<TopicConfig>>([.. _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)]);
        }
    }

    public Task<TopicWrite> TryCreateAsync(TopicConfig config, TopicLimits limits, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var totals = Totals();
            var status = _topics.ContainsKey(config.Name) ? TopicWriteStatus.Conflict
                : totals.Topics >= limits.MaxTopics ? TopicWriteStatus.TooManyTopics
                : totals.Partitions + config.Partitions > limits.MaxPartitions ? TopicWriteStatus.TooManyPartitions
                : TopicWriteStatus.Written;
            if (status == TopicWriteStatus.Written)
            {
                _topics.Add(config.Name, config);
                _partitions += config.Partitions;
            }
            return Task.FromResult(new TopicWrite(status, Totals()));
        }
    }

    public Task<TopicWrite> TryUpdateAsync(TopicConfig current, TopicConfig updated, TopicLimits limits, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var totals = Totals();
            var added = updated.Partitions - current.Partitions;
            var status = !_topics.TryGetValue(current.Name, out var stored) || stored != current ? TopicWriteStatus.Conflict
                : added > 0 && totals.Partitions + added > limits.MaxPartitions ? TopicWriteStatus.TooManyPartitions
                : TopicWriteStatus.Written;
            if (status == TopicWriteStatus.Written)
            {
                _topics[current.Name] = updated;
                _partitions += added;
            }
            return Task.FromResult(new TopicWrite(status, Totals()));
        }
    }

    public Task<bool> DeleteAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_topics.TryGetValue(topic.Name, out var stored) || stored.Id != topic.Id)
            {
                return Task.FromResult(false);
            }
            _topics.Remove(topic.Name);
            _partitions -= stored.Partitions;
            return Task.FromResult(true);
        }
    }

    public Task<TopicTotals> TotalsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(Totals());
        }
    }

    private TopicTotals Totals() => new(_topics.Count, _partitions);
}
