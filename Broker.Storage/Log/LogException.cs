namespace Broker.Storage.Log;

/// <summary>Why the log refused a request. The APIs turn each into a gRPC status or a problem-details response.</summary>
public enum LogError
{
    TopicNotFound,
    PartitionNotFound,
    InvalidBatch,
    BatchTooLarge,
    OutOfOrderSequence,
    OffsetOutOfRange,
    InvalidArgument,
    /// <summary>The partition cannot take more now: its hot tier is past its hard limit (tiering is behind); retry later.</summary>
    HotTierFull,
    /// <summary>A broker-wide limit (Storage:MaxTopics, Storage:MaxPartitions) would be passed; deleting topics makes room.</summary>
    LimitReached,
    /// <summary>This Storage instance serves as many of these at once as its settings allow; retry later (or elsewhere).</summary>
    Busy,
    /// <summary>
    /// The topic was created or deleted by another caller after this request was checked for the other: a create found
    /// it made, a change found it gone. Nothing was written.
    /// </summary>
    TopicChanged,
    /// <summary>
    /// An acks=replicas append was written on the Redis primary but fewer replicas than Storage:MinInSyncReplicas confirmed
    /// it in time (or the connection broke before they could); retry: an idempotent producer's retry is not written twice.
    /// </summary>
    NotEnoughReplicas,
}

/// <summary>A request the log refused, with a message a user can act on. Nothing was written.</summary>
public sealed class LogException(LogError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public LogError Error { get; } = error;
}
