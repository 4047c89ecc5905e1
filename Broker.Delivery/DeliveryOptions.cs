using System.ComponentModel.DataAnnotations;

namespace Broker.Delivery;

/// <summary>Delivery's timing, limits and defaults, bound from the "Delivery" section and validated at start-up.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>Storage's gRPC endpoint; the default resolves through service discovery (services__storage__grpc__0).</summary>
    [Required]
    public string StorageAddress { get; set; } = "http://_grpc.storage";

    /// <summary>Prefix of every Redis key and channel Delivery uses (membership, leases, failed attempts).</summary>
    [Required, RegularExpression("^[A-Za-z0-9._-]+$")]
    public string KeyPrefix { get; set; } = "broker";

    /// <summary>How often each instance renews its consumers' membership and partition leases, and rebalances.</summary>
    [Range(20, 60_000)]
    public int HeartbeatIntervalMs { get; set; } = 1_000;

    /// <summary>A consumer whose instance has not renewed it for this long is dropped from its group.</summary>
    [Range(100, 600_000)]
    public int SessionTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// How long a partition stays with a consumer after its instance last renewed the lease: the longest a
    /// dead instance's partitions wait before another consumer takes them.
    /// </summary>
    [Range(100, 600_000)]
    public int LeaseMs { get; set; } = 10_000;

    /// <summary>How long a consumer losing a partition in a rebalance waits for its in-flight records' acks before letting go.</summary>
    [Range(0, 600_000)]
    public int RevokeDrainMs { get; set; } = 5_000;

    /// <summary>
    /// How long acks gather before their partitions' committed offsets are written to Storage (consumers
    /// leaving and partitions moving commit at once). After a crash, records acked in the last interval come
    /// again.
    /// </summary>
    [Range(0, 60_000)]
    public int CommitIntervalMs { get; set; } = 100;

    /// <summary>Records in flight per consumer when the subscription names no window.</summary>
    [Range(1, 100_000)]
    public int DefaultWindow { get; set; } = 100;

    /// <summary>The largest window a subscription may ask for.</summary>
    [Range(1, 1_000_000)]
    public int MaxWindow { get; set; } = 10_000;

    /// <summary>How long a delivered record may go unacknowledged before it counts as failed, unless the subscription says.</summary>
    [Range(10, 86_400_000)]
    public int DefaultAckTimeoutMs { get; set; } = 30_000;

    /// <summary>The longest ack timeout a subscription may ask for.</summary>
    [Range(10, 86_400_000)]
    public int MaxAckTimeoutMs { get; set; } = 3_600_000;

    /// <summary>The wait before the first redelivery; each further attempt waits about twice as long.</summary>
    [Range(1, 3_600_000)]
    public int RetryBaseDelayMs { get; set; } = 500;

    /// <summary>The longest wait between two attempts.</summary>
    [Range(1, 86_400_000)]
    public int RetryMaxDelayMs { get; set; } = 60_000;

    /// <summary>Randomizes retry waits (decorrelated jitter) so failing records do not come back in lockstep.</summary>
    public bool RetryJitter { get; set; } = true;

    /// <summary>Bytes one message of a partition's Tail stream from Storage may carry (at least one batch).</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int FetchMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>Records a partition holds between Storage and its consumer (fetched ahead plus not yet acked).</summary>
    [Range(1, 1_000_000)]
    public int MaxBufferedRecordsPerPartition { get; set; } = 2_000;

    /// <summary>An HTTP consumer that neither polls nor acks for this long leaves its group; longer than Delivery:MaxPollWaitMs.</summary>
    [Range(100, 3_600_000)]
    public int HttpSessionTimeoutMs { get; set; } = 60_000;

    /// <summary>
    /// The largest body a REST request may carry (a poll, the acks of a poll's records, an app's declaration, a replay); a
    /// larger one is refused with 413 before it is read. Acks of Delivery:MaxPollRecords records take about 60 bytes each.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>Most records one HTTP poll returns.</summary>
    [Range(1, 100_000)]
    public int MaxPollRecords { get; set; } = 1_000;

    /// <summary>The longest an HTTP poll waits for records.</summary>
    [Range(0, 120_000)]
    public int MaxPollWaitMs { get; set; } = 30_000;

    /// <summary>Partitions of a dead-letter topic Delivery creates; 0: as many as the topic it serves.</summary>
    [Range(0, 1024)]
    public int DeadLetterPartitions { get; set; }
}
