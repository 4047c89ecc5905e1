namespace Orders.DaprApp;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Order {OrderId} from {Customer}, {Total}, delivered by the broker.")]
    public static partial void OrderReceived(ILogger logger, string orderId, string customer, decimal total);

    [LoggerMessage(2, LogLevel.Information, "Declared to Delivery as app {AppId} at {Url}: it delivers this app's subscriptions.")]
    public static partial void Declared(ILogger logger, string appId, string url);

    [LoggerMessage(3, LogLevel.Error, "Delivery refused app {AppId} at {Url} ({Status}): {Problem}")]
    public static partial void Refused(ILogger logger, string appId, string url, int status, string problem);

    [LoggerMessage(4, LogLevel.Warning, "Could not declare app {AppId} to Delivery ({Error}); trying again shortly.")]
    public static partial void NotDeclared(ILogger logger, string appId, string error);
}
