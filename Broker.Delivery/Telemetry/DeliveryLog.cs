namespace Broker.Delivery;

/// <summary>Delivery's log messages, source-generated.</summary>
internal static partial class DeliveryLog
{
    [LoggerMessage(1, LogLevel.Warning, "Storage call failed, attempt {Attempt} next: {Reason}")]
    public static partial void StorageRetry(ILogger logger, int attempt, string reason);

    [LoggerMessage(2, LogLevel.Debug, "Could not announce a change of {Subscription}: {Reason}")]
    public static partial void PublishFailed(ILogger logger, string subscription, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Group {Group} on {Topic}/{Partition}: offsets {From} to {To} were removed by retention before they were settled")]
    public static partial void SkippedByRetention(ILogger logger, string group, string topic, int partition, long from, long to);

    [LoggerMessage(4, LogLevel.Warning, "Reading {Topic}/{Partition} failed; trying again: {Reason}")]
    public static partial void ReadFailed(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Could not record the failed attempt of {Subscription} {Partition}@{Offset}: {Reason}")]
    public static partial void FailureNotRecorded(ILogger logger, string subscription, int partition, long offset, string reason);

    [LoggerMessage(6, LogLevel.Error, "The retry loop of {Subscription} {Partition}@{Offset} failed")]
    public static partial void RetryLoopFailed(ILogger logger, string subscription, int partition, long offset, Exception exception);

    [LoggerMessage(7, LogLevel.Information, "{Topic}/{Partition}@{Offset} of group {Group} failed {Attempts} times; written to {DeadLetterTopic}/{DeadLetterPartition}@{DeadLetterOffset}")]
    public static partial void DeadLettered(ILogger logger, string topic, int partition, long offset, string group, int attempts,
        string deadLetterTopic, int deadLetterPartition, long deadLetterOffset);

    [LoggerMessage(8, LogLevel.Warning, "Writing {Topic}/{Partition}@{Offset} to its dead-letter topic failed; trying again: {Reason}")]
    public static partial void DeadLetterFailed(ILogger logger, string topic, int partition, long offset, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Consumer {MemberId} of {Subscription} did not leave cleanly (its leases will run out): {Reason}")]
    public static partial void LeaveFailed(ILogger logger, string memberId, string subscription, string reason);

    [LoggerMessage(10, LogLevel.Information, "Consumer {MemberId} ({Name}) joined group {Group} on {Topic} ({Mode}, window {Window})")]
    public static partial void MemberJoined(ILogger logger, string memberId, string name, string group, string topic, string mode, int window);

    [LoggerMessage(11, LogLevel.Information, "Consumer {MemberId} left group {Group} on {Topic}")]
    public static partial void MemberLeft(ILogger logger, string memberId, string group, string topic);

    [LoggerMessage(12, LogLevel.Warning, "Rebalancing {Subscription} failed; trying again at the next heartbeat: {Reason}")]
    public static partial void RebalanceFailed(ILogger logger, string subscription, string reason);

    [LoggerMessage(13, LogLevel.Warning, "Consumer {MemberId} of {Subscription} lost the lease of partition {Partition}")]
    public static partial void LeaseLost(ILogger logger, string memberId, string subscription, int partition);

    [LoggerMessage(14, LogLevel.Warning, "Consumer {MemberId} of {Subscription} could not start partition {Partition}: {Reason}")]
    public static partial void PartitionStartFailed(ILogger logger, string memberId, string subscription, int partition, string reason);

    [LoggerMessage(15, LogLevel.Information, "Consumer {MemberId} of group {Group} on {Topic} now holds partitions [{Partitions}]")]
    public static partial void Assigned(ILogger logger, string memberId, string group, string topic, string partitions);

    [LoggerMessage(16, LogLevel.Warning, "Committing offsets of {Subscription} failed; trying again: {Reason}")]
    public static partial void CommitFailed(ILogger logger, string subscription, string reason);

    [LoggerMessage(17, LogLevel.Debug, "Refused {Operation}: {Reason}")]
    public static partial void Refused(ILogger logger, string operation, string reason);

    [LoggerMessage(18, LogLevel.Warning, "No ConnectionStrings:redis is set: consumer groups are coordinated in this process only. Run a single Delivery instance, or set a Redis connection for several.")]
    public static partial void InMemoryCoordinator(ILogger logger);

    [LoggerMessage(19, LogLevel.Error, "Reading {Subscription} partition {Partition} stopped with an error; the consumer is stopped")]
    public static partial void FetchLoopFailed(ILogger logger, string subscription, int partition, Exception exception);

    [LoggerMessage(40, LogLevel.Information, "Replay {JobId} of {Topic} into {Target} started{ResumedText}: {Done} of {Total} records done")]
    private static partial void ReplayStartedCore(ILogger logger, string jobId, string topic, string target, string resumedText, long done, long total);

    public static void ReplayStarted(ILogger logger, string jobId, string topic, string target, bool resumed, long done, long total) =>
        ReplayStartedCore(logger, jobId, topic, target, resumed ? " (resumed)" : "", done, total);

    [LoggerMessage(41, LogLevel.Information, "Replay {JobId} ended {State}: {Done} of {Total} records")]
    public static partial void ReplayFinished(ILogger logger, string jobId, string state, long done, long total);

    [LoggerMessage(42, LogLevel.Information, "Replay {JobId} paused at {Done} of {Total} records (the service is stopping); it resumes where it stopped")]
    public static partial void ReplayPaused(ILogger logger, string jobId, long done, long total);

    [LoggerMessage(43, LogLevel.Error, "Replay {JobId} failed: {Reason}")]
    public static partial void ReplayFailed(ILogger logger, string jobId, string reason);

    [LoggerMessage(44, LogLevel.Warning, "Replay {JobId}: another instance holds its lease now (this one held epoch {Epoch}: it was paused or cut off from Redis past the lease); this one stops running it and writes nothing more of it")]
    public static partial void ReplayLeaseLost(ILogger logger, string jobId, long epoch);

    [LoggerMessage(45, LogLevel.Warning, "Looking for replay jobs failed: {Reason}")]
    public static partial void ReplayScanFailed(ILogger logger, string reason);

    [LoggerMessage(46, LogLevel.Warning, "No ConnectionStrings:redis is set: replay jobs are kept in this process only, and a restart forgets them.")]
    public static partial void InMemoryReplays(ILogger logger);

    [LoggerMessage(47, LogLevel.Information, "Replay {JobId} waits until its creator's rights can be decided: {Reason}")]
    public static partial void ReplayWaiting(ILogger logger, string jobId, string reason);

    [LoggerMessage(48, LogLevel.Warning, "Consumer {MemberId} of {Subscription} was fenced on partition {Partition}: a newer lease than its epoch {Epoch} holds it (this instance was paused or cut off from the coordinator); it lets the partition go without committing")]
    public static partial void Fenced(ILogger logger, string memberId, string subscription, int partition, long epoch);

    [LoggerMessage(49, LogLevel.Warning, "Replay {JobId}: a write of its progress under lease epoch {Epoch} was refused ({Reason}): this instance was paused or cut off from Redis past the lease; it stops running the job and writes nothing more of it")]
    public static partial void ReplayFenced(ILogger logger, string jobId, long epoch, string reason);

    [LoggerMessage(50, LogLevel.Warning, "Replay {JobId}: renewing its lease or writing its progress failed; deliveries wait once the lease is no longer surely held, and the next round tries again: {Reason}")]
    public static partial void ReplayWatchFailed(ILogger logger, string jobId, string reason);
}
