using Microsoft.Extensions.Options;

namespace Broker.Delivery.Outbound;

/// <summary>Says at start-up where Delivery may call out to; loudly when that is nowhere.</summary>
internal sealed class OutboundAnnouncement(IOptions<OutboundOptions> options, IHostEnvironment environment, ILogger<OutboundAnnouncement> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var hosts = options.Value.AllowedHosts;
        if (hosts.Count > 0)
        {
            OutboundLog.AllowedHosts(logger, string.Join(", ", hosts), options.Value.MaxResponseBytes);
        }
        else if (environment.IsDevelopment())
        {
            OutboundLog.LoopbackOnly(logger, options.Value.MaxResponseBytes);
        }
        else
        {
            OutboundLog.NowhereAllowed(logger);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
