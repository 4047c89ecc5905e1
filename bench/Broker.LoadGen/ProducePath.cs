using System.Collections.Concurrent;
using Broker.Contracts.Storage;

namespace Broker.LoadGen;

/// <summary>The broker part of a round: Storage's Append, or Ingest's produce API over gRPC or HTTP.</summary>
public interface IProducePath
{
    /// <summary>What this process wrote, per partition (warm-up included), and the refusals it met.</summary>
    ProduceTally Tally { get; }

    /// <summary>Writes the workload's first <paramref name="batchCount"/> batches (or produce requests).</summary>
    Task<RoundResult> RunAsync(int batchCount, CancellationToken cancellationToken);
}

/// <summary>Records written per partition as the broker confirmed them, refusals by status, requests sent again.</summary>
public sealed class ProduceTally(int partitions)
{
    private readonly long[] _perPartition = new long[partitions];
    private readonly ConcurrentDictionary<string, long> _refused = new(StringComparer.Ordinal);
    private long _retried;

    public IReadOnlyList<long> PerPartition => _perPartition;

    public IReadOnlyDictionary<string, long> Refused => new SortedDictionary<string, long>(_refused, StringComparer.Ordinal);

    public long Retried => Interlocked.Read(ref _retried);

    public void Add(int partition, long records)
    {
        if (partition < 0 || partition >= _perPartition.Length)
        {
            throw new InvalidOperationException($"The broker answered partition {partition}; the topic has {_perPartition.Length}.");
        }
        Interlocked.Add(ref _perPartition[partition], records);
    }

    /// <summary>Counts a refusal that will be sent again.</summary>
    public void RefusedAndRetried(string status)
    {
        _refused.AddOrUpdate(status, 1, (_, n) => n + 1);
        Interlocked.Increment(ref _retried);
    }
}

/// <summary>Storage's view of the topic, through DescribeTopic: the end offsets before, and the check after.</summary>
public sealed class TopicCheck(LogService.LogServiceClient storage, LoadGenOptions options)
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(30);

    public async Task<long[]> EndOffsetsAsync(CancellationToken cancellationToken)
    {
        var described = await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = options.Topic },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);
        return [.. described.Partitions.OrderBy(p => p.Partition).Select(p => p.EndOffset)];
    }

    /// <summary>Checks that each partition grew by exactly what this run wrote to it (<paramref name="written"/>).</summary>
    public async Task VerifyAsync(IReadOnlyList<long> endOffsetsBefore, IReadOnlyList<long> written, CancellationToken cancellationToken)
    {
        var after = await EndOffsetsAsync(cancellationToken);
        if (after.Length != written.Count)
        {
            throw new InvalidOperationException($"Topic '{options.Topic}' has {after.Length} partitions; expected {written.Count}.");
        }
        var grown = after.Select((end, p) => end - endOffsetsBefore[p]).ToArray();
        if (!grown.SequenceEqual(written))
        {
            throw new InvalidOperationException(
                $"Partition end offsets grew by [{string.Join(", ", grown)}] (sum {grown.Sum()}); this run wrote " +
                $"[{string.Join(", ", written)}] (sum {written.Sum()}).");
        }
    }
}
