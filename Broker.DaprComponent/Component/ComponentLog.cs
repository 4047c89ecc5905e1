namespace Broker.DaprComponent.Component;

internal static partial class ComponentLog
{
    [LoggerMessage(1, LogLevel.Information, "Dapr pub/sub component listening on {SocketPath} (daprd registers it as pubsub.{Name})")]
    public static partial void Listening(ILogger logger, string socketPath, string name);

    [LoggerMessage(2, LogLevel.Information, "Component instance {Instance} initialised: consumer group {Group}, Ingest {Ingest}, Delivery {Delivery}")]
    public static partial void Initialised(ILogger logger, string instance, string group, string ingest, string delivery);

    [LoggerMessage(3, LogLevel.Warning, "Subscription of {Instance} to {Topic}: the Delivery stream broke; opening it again in {DelayMs} ms: {Reason}")]
    public static partial void SubscriptionBroken(ILogger logger, string instance, string topic, double delayMs, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Subscription of {Instance} to {Topic}: Delivery refused the ack of {DeliveryId}: {Reason}")]
    public static partial void AckRefused(ILogger logger, string instance, string topic, string deliveryId, string reason);

    [LoggerMessage(5, LogLevel.Information, "Subscription of {Instance} to {Topic} ended by daprd: {Reason}")]
    public static partial void StreamEnded(ILogger logger, string instance, string topic, string reason);
}
