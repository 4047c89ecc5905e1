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
}
