namespace Broker.Delivery.Outbound;

/// <summary>Outbound calls (Dapr apps, replay URL targets): EventIds 120 to 139. What callers are not told is told here.</summary>
internal static partial class OutboundLog
{
    [LoggerMessage(120, LogLevel.Warning, "Refused to call {Target}: {Reason}")]
    public static partial void Refused(ILogger logger, string target, string reason);

    [LoggerMessage(121, LogLevel.Warning, "{What} to {Target} failed; callers are told '{Shown}': {Details}")]
    public static partial void CallFailed(ILogger logger, string what, string target, string shown, string details);

    [LoggerMessage(123, LogLevel.Warning, "App {AppId} is not called: {Reason}")]
    public static partial void AppNotCalled(ILogger logger, string appId, string reason);

    [LoggerMessage(124, LogLevel.Warning, "Replay {JobId} is not run: {Reason}")]
    public static partial void ReplayNotCalled(ILogger logger, string jobId, string reason);

    [LoggerMessage(125, LogLevel.Information, "Dapr apps and replay URL targets may be called on {Hosts} (Delivery:Outbound:AllowedHosts); answers are read up to {MaxResponseBytes} bytes")]
    public static partial void AllowedHosts(ILogger logger, string hosts, int maxResponseBytes);

    [LoggerMessage(126, LogLevel.Information, "Delivery:Outbound:AllowedHosts is empty: in Development, Dapr apps and replay URL targets may be called on loopback addresses only; answers are read up to {MaxResponseBytes} bytes")]
    public static partial void LoopbackOnly(ILogger logger, int maxResponseBytes);

    [LoggerMessage(127, LogLevel.Warning, "Delivery:Outbound:AllowedHosts is empty: outside Development no Dapr app and no replay URL target is called. List the hosts they live on.")]
    public static partial void NowhereAllowed(ILogger logger);
}
