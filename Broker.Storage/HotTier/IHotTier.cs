using Broker.Storage.Topics;

namespace Broker.Storage.HotTier;

/// <summary>
/// The recent part of every partition's log. Offsets are assigned here, atomically with the write
/// and the idempotency check, never in a service's memory.
/// </summary>
public interface IHotTier
{
    /// <summary>False for the in-process tier: what it holds is lost with the process.</summary>
    bool IsDurable { get; }

    Task CreatePartitionsAsync(TopicConfig topic, int fromPartition, CancellationToken cancellationToken);

    Task DeletePartitionsAsync(TopicConfig topic, CancellationToken cancellationToken);

    /// <summary>
    /// Appends one validated batch; <paramref name="batch"/>'s base offset field is ignored. Refused
    /// (<see cref="AppendStatus.HotTierFull"/>) while the partition holds more than the policy's hard limit;
    /// answers when the append made the partition due for tiering (<see cref="AppendOutcome.TieringDue"/>).
    /// </summary>
    Task<AppendOutcome> AppendAsync(TopicConfig topic, int partition, ReadOnlyMemory<byte> batch, BatchIdentity identity, AppendPolicy policy,
        CancellationToken cancellationToken);

    /// <summary>Whole batches from the one containing <paramref name="offset"/>, up to about <paramref name="maxBytes"/> (at least one).</summary>
    Task<HotRead> ReadAsync(TopicConfig topic, int partition, long offset, int maxBytes, CancellationToken cancellationToken);

    Task<IReadOnlyList<PartitionState>> DescribeAsync(TopicConfig topic, CancellationToken cancellationToken);

    /// <summary>The first batch whose max timestamp is at or past <paramref name="timestamp"/> (it holds the earliest such record), or null.</summary>
    Task<byte[]?> FindTimeAsync(TopicConfig topic, int partition, long timestamp, CancellationToken cancellationToken);

    Task<PartitionState> DescribePartitionAsync(TopicConfig topic, int partition, CancellationToken cancellationToken);

    /// <summary>
    /// Retention: removes the oldest whole batches (never while the partition has segments in the cold tier: those are older) while they are older than <paramref name="minTimestamp"/>
    /// (unix ms; -1 for no time limit) or the partition holds more than <paramref name="maxBytes"/> (-1 for
    /// no size limit). Looks at no more than <paramref name="maxBatches"/> batches.
    /// </summary>
    Task<TrimResult> TrimAsync(TopicConfig topic, int partition, long minTimestamp, long maxBytes, int maxBatches, CancellationToken cancellationToken);
}

/// <summary>
/// What a trim did, and the max timestamp of the oldest batch it left (null when it did not look: the partition has
/// segments, which go first, or is empty), so retention knows when that batch expires without reading it again.
/// </summary>
public readonly record struct TrimResult(int BatchesRemoved, long StartOffset, long? OldestMaxTimestamp = null);

/// <summary>What the log needs to know of a batch to place it: its size and its producer's sequence.</summary>
public readonly record struct BatchIdentity(int RecordCount, long ProducerId, int BaseSequence)
{
    public bool IsIdempotent => ProducerId >= 0;
}

public enum AppendStatus
{
    Appended,
    /// <summary>The producer's batch was appended before; <see cref="AppendOutcome.BaseOffset"/> is the original.</summary>
    Duplicate,
    PartitionNotFound,
    /// <summary>The producer skipped or reordered sequences; <see cref="AppendOutcome.ExpectedSequence"/> says what was expected.</summary>
    OutOfOrderSequence,
    /// <summary>The partition's hot tier is past its hard limit (tiering is behind, the segment store may be down).</summary>
    HotTierFull,
}

/// <summary>
/// <see cref="TieringDue"/>: unix ms at which the partition now has something to tier, when the append made that
/// earlier than the partition's record of it (-1: no change); the caller puts it in the tiering due set.
/// <see cref="Replicas"/>: for a topic with acks=replicas, whether replicas confirmed the append (or the duplicate's original).
/// </summary>
public readonly record struct AppendOutcome(
    AppendStatus Status, long BaseOffset, long EndOffset, long ExpectedSequence = -1, long TieringDue = -1, ReplicaConfirmation? Replicas = null);

/// <summary>
/// What an append checks besides the batch: the partition's hard limit of hot bytes (-1: none), and the tiering
/// budget by which it decides when the partition is due to tier (<see cref="HotBytes"/> -1: no cold tier).
/// </summary>
public readonly record struct AppendPolicy(long HardLimitBytes, long HotBytes, long HotMs, long SegmentBytes, long SegmentMaxAgeMs, long NowMs)
{
    /// <summary>No hard limit and no tiering: the in-process tier, or no cold tier.</summary>
    public static AppendPolicy None => new(-1, -1, -1, 0, 0, 0);
}

public enum ReadStatus
{
    Ok,
    PartitionNotFound,
    OffsetOutOfRange,
}

/// <summary>Batches in offset order, each with its base offset set; the first may start before the asked offset.</summary>
public sealed record HotRead(ReadStatus Status, IReadOnlyList<byte[]> Batches, long StartOffset, long EndOffset);

/// <summary>
/// A partition's offsets and sizes. <see cref="StartOffset"/> is the hot tier's first offset; the log starts
/// at <see cref="ColdStartOffset"/> when the cold tier has segments (else -1).
/// </summary>
public readonly record struct PartitionState(int Partition, long StartOffset, long EndOffset, long Bytes, bool Exists = true,
    long ColdStartOffset = -1, long ColdBytes = 0)
{
    public long LogStartOffset => ColdStartOffset >= 0 ? ColdStartOffset : StartOffset;
}
