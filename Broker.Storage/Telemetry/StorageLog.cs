namespace Broker.Storage;

/// <summary>Storage's log messages, source-generated.</summary>
internal static partial class StorageLog
{
    [LoggerMessage(1, LogLevel.Warning,
        "NOT DURABLE: the hot tier is in process memory ({Reason}). Every record is lost when this process stops. Set ConnectionStrings__redis to keep them.")]
    public static partial void InMemoryHotTier(ILogger logger, string reason);

    [LoggerMessage(2, LogLevel.Information, "Hot tier: Redis ({Endpoints}), key prefix '{Prefix}'")]
    public static partial void RedisHotTier(ILogger logger, string endpoints, string prefix);

    [LoggerMessage(3, LogLevel.Information, "Subscribed to append notifications on {Channel}")]
    public static partial void SubscribedToAppends(ILogger logger, string channel);

    [LoggerMessage(4, LogLevel.Information, "Topic {Topic} created with {Partitions} partitions")]
    public static partial void TopicCreated(ILogger logger, string topic, int partitions);

    [LoggerMessage(5, LogLevel.Information, "Topic {Topic} deleted")]
    public static partial void TopicDeleted(ILogger logger, string topic);

    [LoggerMessage(6, LogLevel.Debug, "Duplicate batch for {Topic}/{Partition} from producer {ProducerId} sequence {Sequence}: answered with offset {BaseOffset}")]
    public static partial void DuplicateBatch(ILogger logger, string topic, int partition, long producerId, int sequence, long baseOffset);

    [LoggerMessage(7, LogLevel.Debug, "{Operation} refused: {Error}: {Message}")]
    public static partial void Refused(ILogger logger, string operation, string error, string message);

    [LoggerMessage(8, LogLevel.Information, "Retention removed {Batches} batches from {Topic}/{Partition}; it now starts at offset {StartOffset}")]
    public static partial void RetentionTrimmed(ILogger logger, string topic, int partition, int batches, long startOffset);

    [LoggerMessage(9, LogLevel.Error, "Retention pass failed; it runs again at the next interval")]
    public static partial void RetentionFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Debug, "Unsubscribing from append notifications at shutdown failed: {Reason}")]
    public static partial void UnsubscribeFailed(ILogger logger, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Segment store ({Kind}) request failed; attempt {Attempt} follows: {Reason}")]
    public static partial void SegmentStoreRetry(ILogger logger, string kind, int attempt, string reason);

    [LoggerMessage(12, LogLevel.Information, "Cold tier: {Kind} segment store, {Location}")]
    public static partial void ColdTier(ILogger logger, string kind, string location);

    [LoggerMessage(13, LogLevel.Warning, "No cold tier ({Reason}): every record stays in the hot tier until retention removes it")]
    public static partial void NoColdTier(ILogger logger, string reason);

    [LoggerMessage(14, LogLevel.Information, "Tiered {Topic}/{Partition} offsets {BaseOffset} to {NextOffset} ({Bytes} bytes in {Batches} batches) as {Name}")]
    public static partial void SegmentTiered(ILogger logger, string topic, int partition, long baseOffset, long nextOffset, long bytes, int batches, string name);

    [LoggerMessage(15, LogLevel.Warning, "Tiering {Topic}/{Partition} failed; it is tried again: {Reason}")]
    public static partial void TieringFailed(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(16, LogLevel.Information, "Retention deleted segment {Name} of {Topic}/{Partition}; the log now starts at offset {StartOffset}")]
    public static partial void SegmentDeleted(ILogger logger, string name, string topic, int partition, long startOffset);

    [LoggerMessage(17, LogLevel.Warning, "Deleting segment object {Name} failed (the manifest no longer names it, so it is only storage left behind): {Reason}")]
    public static partial void SegmentDeleteFailed(ILogger logger, string name, string reason);

    [LoggerMessage(18, LogLevel.Debug, "Tiering {Topic}/{Partition}: the hot tier moved meanwhile (it starts at {StartOffset}, not {BaseOffset}); reading it again")]
    public static partial void TieringStale(ILogger logger, string topic, int partition, long startOffset, long baseOffset);

    [LoggerMessage(19, LogLevel.Error, "Tiering pass failed; it runs again at the next interval")]
    public static partial void TieringPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(20, LogLevel.Information, "Tiering sweep: {Topics} topics, {Partitions} partitions looked at, {Due} with something to tier put in the due set")]
    public static partial void TieringSwept(ILogger logger, int topics, int partitions, int due);

    [LoggerMessage(21, LogLevel.Warning, "Tiering sweep failed; it is tried again at the next pass: {Reason}")]
    public static partial void TieringSweepFailed(ILogger logger, string reason);

    [LoggerMessage(22, LogLevel.Warning,
        "Only {Confirmed} of {Required} replicas confirmed {Appends} acks=replicas appends within {TimeoutMs} ms; they are refused as UNAVAILABLE (retriable)")]
    public static partial void ReplicaAckTimeout(ILogger logger, long confirmed, int required, int appends, int timeoutMs);

    [LoggerMessage(23, LogLevel.Warning,
        "The Redis connection for acks=replicas appends reconnected while {Appends} appends waited for replicas; they are refused as UNAVAILABLE (retriable)")]
    public static partial void ReplicaAckReconnected(ILogger logger, int appends);

    [LoggerMessage(24, LogLevel.Error, "A group of acks=replicas appends failed unexpectedly; its appends are refused and the next group is tried")]
    public static partial void ReplicaAckLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(40, LogLevel.Information, "ACLs: version {Version}, {Count} entries")]
    public static partial void AclsLoaded(ILogger logger, long version, int count);

    [LoggerMessage(41, LogLevel.Warning, "Reading the ACLs failed ({Reason}); the last ones loaded stay in force")]
    public static partial void AclReloadFailed(ILogger logger, string reason);

    [LoggerMessage(42, LogLevel.Information, "Deleted orphaned segment object {Name} (written {LastModified:u}): {Reason}")]
    public static partial void OrphanDeleted(ILogger logger, string name, DateTimeOffset lastModified, string reason);

    [LoggerMessage(43, LogLevel.Information, "Orphan sweep: {Objects} objects looked at, {Deleted} orphans deleted")]
    public static partial void OrphanSweepDone(ILogger logger, int objects, int deleted);

    [LoggerMessage(44, LogLevel.Warning, "Orphan sweep failed; the next one starts over: {Reason}")]
    public static partial void OrphanSweepFailed(ILogger logger, string reason);
}
