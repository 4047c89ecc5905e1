using System.ComponentModel.DataAnnotations;

namespace Broker.Storage;

/// <summary>Storage's limits and choices, bound from the "Storage" section and validated at start-up.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>"auto" (Redis when ConnectionStrings:redis is set, else in-process), "redis" or "memory".</summary>
    [RegularExpression("^(auto|redis|memory)$")]
    public string HotTier { get; set; } = "auto";

    /// <summary>Prefix of every Redis key and channel this service uses, so several brokers can share a Redis.</summary>
    [RegularExpression("^[A-Za-z0-9._-]{1,64}$")]
    public string KeyPrefix { get; set; } = "broker";

    /// <summary>
    /// The largest body a REST request may carry (a topic's settings, an ACL binding: a few hundred bytes each); a larger
    /// one is refused with 413 before it is read.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = 64 * 1024;

    /// <summary>The largest record batch one append may carry (encoded bytes).</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// The largest records section a batch may hold once decompressed: what keeps a small compressed batch
    /// from making Storage (or a consumer) allocate without bound.
    /// </summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxUncompressedBatchBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>The most records one batch may hold.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchRecords { get; set; } = 100_000;

    /// <summary>What a read returns at most when the caller asks for more (at least one batch is always returned).</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxReadBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>What a read returns when the caller does not say.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int DefaultReadBytes { get; set; } = 1024 * 1024;

    /// <summary>The longest a long-poll read or wait may block.</summary>
    [Range(0, 300_000)]
    public int MaxWaitMs { get; set; } = 30_000;

    /// <summary>Waiters re-check the end offset this often even without a wake-up (a lost PUBLISH is not fatal).</summary>
    [Range(10, 60_000)]
    public int WaitPollIntervalMs { get; set; } = 1_000;

    /// <summary>How long a topic's configuration is cached in memory before it is read again.</summary>
    [Range(0, 3_600)]
    public int TopicCacheSeconds { get; set; } = 5;

    /// <summary>How long an idle idempotent producer's sequence state is kept per partition (Kafka keeps 7 days).</summary>
    [Range(1, 24 * 365)]
    public int ProducerStateTtlHours { get; set; } = 24 * 7;

    /// <summary>The most topics the broker holds.</summary>
    [Range(1, 1_000_000)]
    public int MaxTopics { get; set; } = 10_000;

    /// <summary>
    /// The most partitions the broker holds, over all topics: what bounds the keys in Redis and the work per
    /// partition (tiering, retention, consumers). Creating or growing a topic past it is refused.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxPartitions { get; set; } = 10_000;

    /// <summary>The most bytes of metadata a committed offset may carry (Kafka's offset.metadata.max.bytes is 4096 too).</summary>
    [Range(0, 1024 * 1024)]
    public int MaxOffsetMetadataBytes { get; set; } = 4096;

    /// <summary>
    /// The most appends one AppendStream has under way (taken and not yet answered): past it, Storage stops reading
    /// the stream until answers go out, so a client that sends without reading cannot make Storage hold its batches
    /// without bound. Ingest keeps one batch in flight per partition, so this rarely slows it.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxAppendsInFlightPerStream { get; set; } = 1024;

    /// <summary>
    /// The most Tail streams one Storage instance serves at once (each polls Redis while it waits). Delivery holds one
    /// per partition per group it consumes; more are refused with RESOURCE_EXHAUSTED naming this setting. Kestrel
    /// already allows no more than 100 concurrent streams per HTTP/2 connection.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxTailStreams { get; set; } = 20_000;

    /// <summary>
    /// How many replicas must confirm an append to a topic with acks=replicas (Redis WAIT), as Kafka's min.insync.replicas.
    /// Redis counts replicas of the primary Storage writes to; a Sentinel or a replica that is not connected counts for nothing.
    /// </summary>
    [Range(1, 100)]
    public int MinInSyncReplicas { get; set; } = 1;

    /// <summary>
    /// How long an acks=replicas append waits for Storage:MinInSyncReplicas confirmations before it is refused as UNAVAILABLE
    /// (retriable: it was written on the primary, and an idempotent producer's retry is answered from there, not written twice).
    /// Keep it below Ingest:AppendTimeoutMs (10 s) so Ingest hears the refusal instead of giving up on the call.
    /// </summary>
    [Range(10, 60_000)]
    public int ReplicaAckTimeoutMs { get; set; } = 5_000;

    /// <summary>How often retention looks at every partition.</summary>
    [Range(1, 86_400)]
    public int RetentionCheckIntervalSeconds { get; set; } = 60;

    /// <summary>The most batches one retention pass removes per partition (the rest go on the next pass).</summary>
    [Range(1, 1_000_000)]
    public int RetentionBatchesPerPass { get; set; } = 1_000;
}
