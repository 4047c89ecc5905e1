using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Broker.ServiceDefaults.Security.Tls;

/// <summary>Says at start-up which CAs this service trusts as a client besides the system's, and which certificate it presents.</summary>
internal sealed class TlsAnnouncement(TlsTrust tls, ILogger<TlsAnnouncement> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (tls.IsConfigured)
        {
            SecurityLog.TlsClientTrust(logger, tls.CaCertificates.Count, tls.CaSource ?? "none",
                tls.ClientCertificate is { } certificate ? $"{certificate.Subject} (expires {certificate.NotAfter:u})" : "none");
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
