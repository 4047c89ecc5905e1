namespace Broker.Delivery.Dapr;

internal static partial class DaprDeliveryLog
{
    [LoggerMessage(101, LogLevel.Warning, "Delivery of {Topic} to app {AppId} stopped; trying again: {Reason}")]
    public static partial void SubscriptionFailed(ILogger logger, string appId, string topic, string reason);

    [LoggerMessage(102, LogLevel.Information, "App {AppId} dropped {Topic}/{Partition}@{Offset} ({Reason}); written to {DeadLetterTopic}/{DeadLetterPartition}@{DeadLetterOffset}")]
    public static partial void Dropped(ILogger logger, string appId, string topic, int partition, long offset, string reason, string deadLetterTopic,
        int deadLetterPartition, long deadLetterOffset);

    [LoggerMessage(103, LogLevel.Debug, "An answer of app {AppId} on {Topic} was not taken: {Reason}")]
    public static partial void AnswerNotTaken(ILogger logger, string appId, string topic, string reason);

    [LoggerMessage(104, LogLevel.Warning, "Could not ask app {AppId} for its subscriptions; keeping the ones it had: {Reason}")]
    public static partial void DiscoveryFailed(ILogger logger, string appId, string reason);

    [LoggerMessage(105, LogLevel.Information, "App {AppId}: delivering {Topic} to {Route} ({Kind})")]
    public static partial void SubscriptionStarted(ILogger logger, string appId, string topic, string route, string kind);

    [LoggerMessage(106, LogLevel.Information, "App {AppId}: no longer delivering {Topic}")]
    public static partial void SubscriptionStopped(ILogger logger, string appId, string topic);

    [LoggerMessage(107, LogLevel.Warning, "App {AppId}: subscription to {Topic} ignored: {Reason}")]
    public static partial void SubscriptionRejected(ILogger logger, string appId, string topic, string reason);

    [LoggerMessage(108, LogLevel.Warning, "Could not read the declared Dapr apps; keeping the ones known: {Reason}")]
    public static partial void StoreFailed(ILogger logger, string reason);

    [LoggerMessage(109, LogLevel.Information, "App {AppId}: subscription to {Topic} waits until its declarer's rights can be decided: {Reason}")]
    public static partial void SubscriptionWaiting(ILogger logger, string appId, string topic, string reason);
}
