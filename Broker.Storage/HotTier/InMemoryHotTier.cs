using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.Storage.Topics;


namespace Broker.Storage.HotTier;

/// <summary>
/// The hot tier in process memory, behind the same contract as Redis: the embedded default and the
/// fast path for unit tests. Nothing survives the process; start-up says so loudly.
/// </summary>
internal sealed class InMemoryHotTier : IHotTier
{
    private const int ProducerBatchesKept = 5;
    private readonly ConcurrentDictionary<(string TopicId, int Partition), MemoryPartition> _partitions = new();

    public bool IsDurable => false;

    public Task CreatePartitionsAsync(TopicConfig topic, int fromPartition, CancellationToken cancellationToken)
    {
        for (var p = fromPartition; p < topic.Partitions; p++)
        {
            _partitions.TryAdd((topic.Id, p), new MemoryPartition());
        }
        return Task.CompletedTask;
    }

    public Task DeletePartitionsAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        for (var p = 0; p < topic.Partitions; p++)
        {
            _partitions.TryRemove((topic.Id, p), out _);
        }
        return Task.CompletedTask;
    }

    /// <summary>The in-process tier has no cold tier behind it, so no hard limit applies (retention bounds it).</summary>
    public Task<AppendOutcome> AppendAsync(
        TopicConfig topic, int partition, ReadOnlyMemory<byte> batch, BatchIdentity identity, AppendPolicy policy, CancellationToken cancellationToken)
    {
        if (!_partitions.TryGetValue((topic.Id, partition), out var log))
        {
            return Task.FromResult(new AppendOutcome(AppendStatus.PartitionNotFound, -1, -1));
        }
        lock (log)
        {
            return Task.FromResult(log.Append(batch, identity));
        }
    }

    public Task<HotRead> ReadAsync(TopicConfig topic, int partition, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        if (!_partitions.TryGetValue((topic.Id, partition), out var log))
        {
            return Task.FromResult(new HotRead(ReadStatus.PartitionNotFound, [], -1, -1));
        }
        lock (log)
        {
            return Task.FromResult(log.Read(offset, maxBytes));
        }
    }

    public Task<IReadOnlyList<PartitionState>> DescribeAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var states = new PartitionState[topic.Partitions];
        for (var p = 0; p < states.Length; p++)
        {
            states[p] = State(topic, p);
        }
        return Task.FromResult<IReadOnlyList<PartitionState>>(states);
    }

    public Task<byte[]?> FindTimeAsync(TopicConfig topic, int partition, long timestamp, CancellationToken cancellationToken)
    {
        if (!_partitions.TryGetValue((topic.Id, partition), out var log))
        {
            return Task.FromResult<byte[]?>(null);
        }
        lock (log)
        {
            return Task.FromResult(log.FindTime(timestamp));
        }
    }

    public Task<PartitionState> DescribePartitionAsync(TopicConfig topic, int partition, CancellationToken cancellationToken) =>
        Task.FromResult(State(topic, partition));

    public Task<TrimResult> TrimAsync(
        TopicConfig topic, int partition, long minTimestamp, long maxBytes, int maxBatches, CancellationToken cancellationToken)
    {
        if (!_partitions.TryGetValue((topic.Id, partition), out var log))
        {
            return Task.FromResult(new TrimResult(0, -1));
        }
        lock (log)
        {
            return Task.FromResult(log.Trim(minTimestamp, maxBytes, maxBatches));
        }
    }

    private PartitionState State(TopicConfig topic, int partition)
    {
        if (!_partitions.TryGetValue((topic.Id, partition), out var log))
        {
            return new PartitionState(partition, 0, 0, 0, Exists: false);
        }
        lock (log)
        {
            return new PartitionState(partition, log.StartOffset, log.EndOffset, log.Bytes);
        }
    }

    /// <summary>One partition's batches; guarded by locking the instance.</summary>
    private sealed class MemoryPartition
    {
        private readonly List<(long BaseOffset, byte[] Batch)> _batches = [];
        private readonly Dictionary<long, Queue<(int Sequence, int Count, long BaseOffset)>> _producers = [];

        public long StartOffset { get; private set; }
        public long EndOffset { get; private set; }
        public long Bytes { get; private set; }

        public AppendOutcome Append(ReadOnlyMemory<byte> batch, BatchIdentity identity)
        {
            Queue<(int Sequence, int Count, long BaseOffset)>? recent = null;
            if (identity.IsIdempotent && _producers.TryGetValue(identity.ProducerId, out recent) && recent.Count > 0)
            {
                var expected = -1L;
                foreach (var (sequence, count, baseOffset) in recent)
                {
                    if (sequence == identity.BaseSequence && count == identity.RecordCount)
                    {
                        return new AppendOutcome(AppendStatus.Duplicate, baseOffset, EndOffset);
                    }
                    expected = RecordBatch.NextSequence(sequence, count);
                }
                if (identity.BaseSequence != expected)
                {
                    return new AppendOutcome(AppendStatus.OutOfOrderSequence, -1, EndOffset, expected);
                }
            }
            var stored = batch.ToArray();
            var assigned = EndOffset;
            RecordBatch.SetBaseOffset(stored, assigned);
            _batches.Add((assigned, stored));
            EndOffset += identity.RecordCount;
            Bytes += stored.Length;
            if (identity.IsIdempotent)
            {
                if (recent is null)
                {
                    recent = new Queue<(int, int, long)>();
                    _producers[identity.ProducerId] = recent;
                }
                recent.Enqueue((identity.BaseSequence, identity.RecordCount, assigned));
                while (recent.Count > ProducerBatchesKept)
                {
                    recent.Dequeue();
                }
            }
            return new AppendOutcome(AppendStatus.Appended, assigned, EndOffset);
        }

        public TrimResult Trim(long minTimestamp, long maxBytes, int maxBatches)
        {
            var removed = 0;
            while (removed < maxBatches && _batches.Count > 0)
            {
                var oldest = RecordBatch.Parse(_batches[0].Batch);
                var expired = minTimestamp >= 0 && oldest.MaxTimestamp < minTimestamp;
                var over = maxBytes >= 0 && Bytes > maxBytes;
                if (!expired && !over)
                {
                    break;
                }
                _batches.RemoveAt(0);
                Bytes -= oldest.Bytes.Length;
                StartOffset = oldest.NextOffset;
                removed++;
            }
            return new TrimResult(removed, StartOffset, _batches.Count > 0 ? RecordBatch.Parse(_batches[0].Batch).MaxTimestamp : null);
        }

        public byte[]? FindTime(long timestamp)
        {
            foreach (var (_, batch) in _batches)
            {
                if (RecordBatch.Parse(batch).MaxTimestamp >= timestamp)
                {
                    return batch;
                }
            }
            return null;
        }

        public HotRead Read(long offset, int maxBytes)
        {
            if (offset < StartOffset || offset > EndOffset)
            {
                return new HotRead(ReadStatus.OffsetOutOfRange, [], StartOffset, EndOffset);
            }
            var result = new List<byte[]>();
            if (offset == EndOffset)
            {
                return new HotRead(ReadStatus.Ok, result, StartOffset, EndOffset);
            }
            // The last batch whose base offset is at or below the offset holds it.
            var index = _batches.BinarySearch((offset, []), BaseOffsetComparer.Instance);
            if (index < 0)
            {
                index = ~index - 1;
            }
            var bytes = 0;
            for (var i = Math.Max(index, 0); i < _batches.Count && (result.Count == 0 || bytes < maxBytes); i++)
            {
                result.Add(_batches[i].Batch);
                bytes += _batches[i].Batch.Length;
            }
            return new HotRead(ReadStatus.Ok, result, StartOffset, EndOffset);
        }
    }

    private sealed class BaseOffsetComparer : IComparer<(long BaseOffset, byte[] Batch)>
    {
        public static readonly BaseOffsetComparer Instance = new();

        public int Compare((long BaseOffset, byte[] Batch) x, (long BaseOffset, byte[] Batch) y) => x.BaseOffset.CompareTo(y.BaseOffset);
    }
}
