using System.Diagnostics;
using Broker.Contracts.Batches;

namespace Broker.Delivery.Consuming;

internal enum RecordState
{
    /// <summary>Fetched, waiting for its first delivery.</summary>
    Fresh,
    /// <summary>Delivered, waiting for an ack or nack (or its ack timeout).</summary>
    InFlight,
    /// <summary>Failed at least once and not settled: waiting out its backoff, or queued for redelivery.</summary>
    Retrying,
    /// <summary>Acked, dead-lettered or expired: done with, counts towards the committed offset.</summary>
    Settled,
}

/// <summary>How one delivery attempt ended.</summary>
internal enum AttemptOutcome
{
    Acked,
    Failed,
    Expired,
    /// <summary>Failed, and it was the last attempt the topic allows.</summary>
    Exhausted,
}

/// <summary>
/// One record of a partition between its fetch from Storage and its settlement. Its key, value and headers
/// point into the batch it was read with (no copy). Guarded by its consumer's lock.
/// </summary>
internal sealed class PendingRecord
{
    public required int Partition { get; init; }
    public required long Offset { get; init; }
    public required ReadOnlyMemory<byte>? Key { get; init; }
    public required ReadOnlyMemory<byte> Value { get; init; }
    public required IReadOnlyList<RecordHeader> Headers { get; init; }
    public required long Timestamp { get; init; }

    /// <summary>When it expires (Unix ms): the topic's or the record's own time-to-live; long.MaxValue when none.</summary>
    public required long ExpiresAt { get; init; }

    public RecordState State { get; set; }

    /// <summary>Deliveries so far, including those by earlier owners of the partition that failed.</summary>
    public int Attempts { get; set; }

    public string? LastError { get; set; }

    /// <summary>True once it failed: a retry loop (<see cref="Retries.RedeliveryPolicy"/>) owns what happens next.</summary>
    public bool InRetryLoop { get; set; }

    /// <summary>Completed with the outcome of the current redelivery, while the retry loop waits for it.</summary>
    public TaskCompletionSource<AttemptOutcome>? Outcome { get; set; }

    /// <summary>When the current delivery fails unless answered (Unix ms).</summary>
    public long AckDeadline { get; set; }

    /// <summary>Neighbours in its consumer's list of records in flight (delivery order); null when not in flight.</summary>
    public PendingRecord? OlderInFlight { get; set; }

    public PendingRecord? NewerInFlight { get; set; }

    /// <summary>The span of the current delivery, while one is listened to.</summary>
    public Activity? Span { get; set; }

    /// <summary>True when a failure of it was written to the coordinator, to be forgotten once it is settled.</summary>
    public bool FailureRecorded { get; set; }
}
