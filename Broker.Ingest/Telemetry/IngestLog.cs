namespace Broker.Ingest;

/// <summary>Ingest's log messages, source-generated.</summary>
internal static partial class IngestLog
{
    [LoggerMessage(1, LogLevel.Warning, "Storage append failed, attempt {Attempt} next: {Reason}")]
    public static partial void AppendRetry(ILogger logger, int attempt, string reason);

    [LoggerMessage(2, LogLevel.Warning, "Storage refused the producer sequence for {Topic}/{Partition}; starting a new producer id: {Reason}")]
    public static partial void ProducerReset(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Produce request refused ({Error}): {Message}")]
    public static partial void Refused(ILogger logger, string error, string message);

    [LoggerMessage(4, LogLevel.Warning, "The append stream to Storage broke; appends in flight are retried on a new one: {Reason}")]
    public static partial void AppendStreamBroken(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Debug, "The batcher of {Topic}/{Partition} had no records for {IdleMs} ms and was let go")]
    public static partial void AccumulatorRetired(ILogger logger, string topic, int partition, int idleMs);
}
