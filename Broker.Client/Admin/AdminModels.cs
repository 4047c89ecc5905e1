namespace Broker.Client.Admin;

/// <summary>A topic's settings, for create and alter: what is null is left as it is (or the broker's default on create).</summary>
public sealed record TopicSettings
{
    /// <summary>Partitions (create; alter may only add).</summary>
    public int? Partitions { get; init; }

    /// <summary>How long records are kept, in milliseconds.</summary>
    public long? RetentionMs { get; init; }

    /// <summary>How many bytes a partition keeps at most.</summary>
    public long? RetentionBytes { get; init; }

    /// <summary>Bytes a partition keeps in the hot tier (Redis) before older batches move to S3.</summary>
    public long? HotBytes { get; init; }

    /// <summary>Milliseconds a batch stays in the hot tier before it moves to S3.</summary>
    public long? HotMs { get; init; }

    /// <summary>The registry subject whose schema records must match.</summary>
    public string? SchemaSubject { get; init; }

    /// <summary>Whether Ingest checks records against the subject's schema.</summary>
    public bool? SchemaValidation { get; init; }

    /// <summary>Deliveries of a record before it goes to the dead-letter topic.</summary>
    public int? MaxDeliveryAttempts { get; init; }

    /// <summary>Where records that exhausted their attempts go (default: <c>{topic}.dlq</c>).</summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>Records older than this (milliseconds) are not delivered.</summary>
    public long? MessageTtlMs { get; init; }

    /// <summary>Batch compression: <c>none</c>, <c>lz4</c> or <c>zstd</c>.</summary>
    public string? Compression { get; init; }

    /// <summary>
    /// When an append is acknowledged: <c>leader</c> (the Redis primary holds it) or <c>replicas</c> (Storage:MinInSyncReplicas
    /// replicas confirmed it too; see docs/reliability.md).
    /// </summary>
    public string? Acks { get; init; }
}

/// <summary>A topic as Storage describes it.</summary>
/// <param name="Name">The topic.</param>
/// <param name="Partitions">Its partitions.</param>
/// <param name="RetentionMs">How long records are kept.</param>
/// <param name="RetentionBytes">How many bytes a partition keeps at most.</param>
/// <param name="HotBytes">The hot tier's budget per partition.</param>
/// <param name="HotMs">How long a batch stays hot.</param>
/// <param name="SchemaSubject">The subject records must match, if any.</param>
/// <param name="SchemaValidation">Whether Ingest checks records against it.</param>
/// <param name="MaxDeliveryAttempts">Deliveries before the dead-letter topic.</param>
/// <param name="DeadLetterTopic">The dead-letter topic.</param>
/// <param name="Compression">Batch compression.</param>
/// <param name="MessageTtlMs">Records older than this are not delivered (0: no limit).</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="PartitionOffsets">Each partition's offsets and bytes (on describe).</param>
public sealed record TopicDescription(
    string Name, int Partitions, long RetentionMs, long RetentionBytes, long HotBytes, long HotMs, string? SchemaSubject, bool SchemaValidation,
    int MaxDeliveryAttempts, string DeadLetterTopic, string Compression, long MessageTtlMs, DateTimeOffset CreatedAt,
    IReadOnlyList<PartitionOffsets>? PartitionOffsets)
{
    /// <summary>When an append is acknowledged: <c>leader</c> or <c>replicas</c> (see <see cref="TopicSettings.Acks"/>).</summary>
    public string Acks { get; init; } = "leader";
}

/// <summary>A partition's offsets: the log starts in the cold tier when it has segments; the hot tier from HotStartOffset.</summary>
/// <param name="Partition">The partition.</param>
/// <param name="StartOffset">The first offset kept.</param>
/// <param name="HotStartOffset">The first offset in the hot tier.</param>
/// <param name="EndOffset">The next offset to be written.</param>
/// <param name="HotBytes">Bytes in the hot tier.</param>
/// <param name="ColdBytes">Bytes in S3 segments.</param>
public sealed record PartitionOffsets(int Partition, long StartOffset, long HotStartOffset, long EndOffset, long HotBytes, long ColdBytes);

/// <summary>A consumer group on each topic it reads: members, and per partition the committed offset and the lag.</summary>
/// <param name="Group">The group.</param>
/// <param name="Topics">Each topic the group reads.</param>
public sealed record GroupDescription(string Group, IReadOnlyList<GroupTopic> Topics);

/// <summary>A group on one topic.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Members">Its members now.</param>
/// <param name="Partitions">Each partition's committed offset, end and lag.</param>
/// <param name="Lag">Records not yet committed, over all partitions.</param>
public sealed record GroupTopic(string Topic, IReadOnlyList<GroupMember> Members, IReadOnlyList<PartitionLag> Partitions, long Lag);

/// <summary>A member of a group.</summary>
/// <param name="MemberId">Its id.</param>
/// <param name="Name">Its consumer name.</param>
public sealed record GroupMember(string MemberId, string Name);

/// <summary>A partition's lag for a group.</summary>
/// <param name="Partition">The partition.</param>
/// <param name="CommittedOffset">The group's committed offset; null before its first commit.</param>
/// <param name="EndOffset">The partition's end.</param>
/// <param name="Lag">Records between them.</param>
/// <param name="Owner">The member holding it now.</param>
public sealed record PartitionLag(int Partition, long? CommittedOffset, long EndOffset, long Lag, string? Owner);

/// <summary>What a replay job reads and where it sends it.</summary>
public sealed record ReplayRequest
{
    /// <summary>The topic to read.</summary>
    public required string Topic { get; init; }

    /// <summary>Its partitions to read; null: all.</summary>
    public IReadOnlyList<int>? Partitions { get; init; }

    /// <summary>Where to start (an offset or a time); null: the start of the log.</summary>
    public ReplayPosition? Start { get; init; }

    /// <summary>Where to end, exclusive; null: the end of the log now.</summary>
    public ReplayPosition? End { get; init; }

    /// <summary>Where the records go.</summary>
    public required ReplayTarget Target { get; init; }

    /// <summary>Most records a second; null: as fast as it goes.</summary>
    public int? RateLimit { get; init; }
}

/// <summary>A position: an offset, or a time (unix milliseconds) looked up in both tiers.</summary>
/// <param name="Offset">An offset.</param>
/// <param name="Timestamp">A time, in unix milliseconds.</param>
public sealed record ReplayPosition(long? Offset = null, long? Timestamp = null);

/// <summary>A replay's target: one of a group to rewind, a topic to copy into, an HTTP URL, or verify (read and check, send nowhere).</summary>
/// <param name="Group">A group whose members get the records again.</param>
/// <param name="Topic">A topic the records are copied into.</param>
/// <param name="Url">An HTTP endpoint (on Delivery's allow-list) the records are POSTed to.</param>
/// <param name="Verify">True: read and check every record, deliver nothing.</param>
public sealed record ReplayTarget(string? Group = null, string? Topic = null, string? Url = null, bool? Verify = null)
{
    /// <summary>Read and check every record, deliver nothing.</summary>
    public static ReplayTarget VerifyOnly { get; } = new(Verify: true);
}

/// <summary>A replay job's state and progress.</summary>
/// <param name="Id">The job's id.</param>
/// <param name="Topic">The topic it reads.</param>
/// <param name="State">pending, running, completed, failed or cancelled.</param>
/// <param name="RecordsDone">Records replayed so far.</param>
/// <param name="RecordsTotal">Records in its range.</param>
/// <param name="Percent">Done, in percent.</param>
/// <param name="RecordsPerSecond">Its rate now.</param>
/// <param name="EtaSeconds">Seconds left at that rate, while running.</param>
/// <param name="Error">Why it failed.</param>
public sealed record ReplayStatus(string Id, string Topic, string State, long RecordsDone, long RecordsTotal, double Percent, double RecordsPerSecond,
    double? EtaSeconds, string? Error)
{
    /// <summary>Whether the job has ended (completed, failed or cancelled).</summary>
    public bool Finished => State is "completed" or "failed" or "cancelled";
}

/// <summary>A schema check's answer: whether it is compatible with the subject's versions, and why not.</summary>
/// <param name="IsCompatible">Whether it is.</param>
/// <param name="Messages">The reasons, when it is not.</param>
public sealed record CompatibilityResult(bool IsCompatible, IReadOnlyList<string> Messages);
