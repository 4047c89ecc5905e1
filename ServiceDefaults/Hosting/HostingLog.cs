using Microsoft.Extensions.Logging;

namespace Broker.ServiceDefaults.Hosting;

/// <summary>
/// How a service starts and stops, EventIds 9100-9199 in every service (beside Security's 9000-9099; the services' own
/// logs keep below 1000).
/// </summary>
internal static partial class HostingLog
{
    [LoggerMessage(9101, LogLevel.Critical, "{Service} cannot listen on {Address}: the port is taken. Move it with {Settings}", EventName = "PortTaken")]
    public static partial void PortTaken(ILogger logger, string service, string address, string settings);
}
