using Broker.Contracts.Batches;

namespace Broker.Storage.Topics;

/// <summary>
/// A topic as stored. <see cref="Id"/> is new each time a topic is created, so the keys of a deleted
/// topic (and its producers' state) can never leak into a new topic of the same name.
/// </summary>
public sealed record TopicConfig
{
    public required string Name { get; init; }
    public required string Id { get; init; }
    public required int Partitions { get; init; }

    /// <summary>Grows by one with every change; updates are compare-and-set on (Id, Version).</summary>
    public int Version { get; init; }

    /// <summary>How long records are kept, in milliseconds; -1 keeps them forever.</summary>
    public long RetentionMs { get; init; } = TopicDefaults.RetentionMs;

    /// <summary>How many bytes a partition keeps; -1 means no size limit.</summary>
    public long RetentionBytes { get; init; } = -1;

    /// <summary>The hot-tier (Redis) budget per partition in bytes; older batches move to the cold tier past it.</summary>
    public long HotBytes { get; init; } = TopicDefaults.HotBytes;

    /// <summary>How long batches stay in the hot tier before they move to the cold tier anyway, in ms; -1: no age limit.</summary>
    public long HotMs { get; init; } = -1;

    /// <summary>The schema registry subject values are checked against; null means "&lt;topic&gt;-value".</summary>
    public string? SchemaSubject { get; init; }

    /// <summary>Whether Ingest refuses values that are not registered Avro of <see cref="EffectiveSchemaSubject"/>.</summary>
    public bool SchemaValidation { get; init; }

    /// <summary>The subject values are checked against, or null when the topic is unchecked.</summary>
    public string? EffectiveSchemaSubject => SchemaValidation ? SchemaSubject ?? Name + "-value" : null;

    public int MaxDeliveryAttempts { get; init; } = TopicDefaults.MaxDeliveryAttempts;

    /// <summary>Where records that exhausted their attempts go; null means "&lt;topic&gt;.dlq".</summary>
    public string? DeadLetterTopic { get; init; }

    public CompressionCodec Compression { get; init; } = CompressionCodec.None;

    /// <summary>How long a record may wait for delivery before it is skipped as expired; -1: no limit.</summary>
    public long MessageTtlMs { get; init; } = -1;

    /// <summary>When an append is acknowledged: once the Redis primary holds it (<see cref="TopicAcks.Leader"/>), or once replicas confirmed it too.</summary>
    public TopicAcks Acks { get; init; } = TopicAcks.Leader;

    public DateTimeOffset CreatedAt { get; init; }

    public string EffectiveDeadLetterTopic => DeadLetterTopic ?? Name + ".dlq";
}

/// <summary>A topic's acks setting, as Kafka's acks=1 and acks=all with min.insync.replicas.</summary>
public enum TopicAcks
{
    /// <summary>Acknowledged once the Redis primary ran the append (replication to replicas follows asynchronously).</summary>
    Leader,

    /// <summary>
    /// Acknowledged once at least Storage:MinInSyncReplicas replicas confirmed the append (Redis WAIT); fewer within
    /// Storage:ReplicaAckTimeoutMs is a retriable refusal (UNAVAILABLE).
    /// </summary>
    Replicas,
}

public static class TopicDefaults
{
    public const long RetentionMs = 7L * 24 * 60 * 60 * 1000;
    public const long HotBytes = 256L * 1024 * 1024;
    public const int MaxDeliveryAttempts = 5;
    public const int MaxPartitions = 1024;
    public const int MaxNameLength = Broker.Contracts.Naming.Names.MaxLength;

    /// <summary>
    /// The longest retentionMs, hotMs and messageTtlMs (100 years): a record's timestamp plus any of them stays far
    /// inside a long, where a larger value would wrap (a TTL of long.MaxValue would expire every record at once).
    /// </summary>
    public const long MaxDurationMs = 100L * 365 * 24 * 60 * 60 * 1000;
}
