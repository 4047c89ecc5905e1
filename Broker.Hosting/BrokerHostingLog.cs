using Microsoft.Extensions.Logging;

namespace Aspire.Hosting;

/// <summary>The hosting integration's log lines (EventIds 9600-9619), written to the broker resource's log.</summary>
internal static partial class BrokerHostingLog
{
    [LoggerMessage(9600, LogLevel.Information, "{Note}")]
    public static partial void Chosen(ILogger logger, string note);

    [LoggerMessage(9601, LogLevel.Warning, "{Note}")]
    public static partial void LeftOut(ILogger logger, string note);

    [LoggerMessage(9602, LogLevel.Information, "Every service is healthy: {Services}.")]
    public static partial void Running(ILogger logger, string services);

    [LoggerMessage(9603, LogLevel.Information, "Waiting for {Services} to be healthy.")]
    public static partial void Waiting(ILogger logger, string services);
}
