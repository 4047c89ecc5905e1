using Broker.ServiceDefaults.Security.Tls;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.ServiceDefaults.Redis;

/// <summary>
/// Builds the configuration of every Redis connection a service opens from ConnectionStrings:{name} and
/// Broker:Redis: the shared multiplexer's, and that of any dedicated one a service needs beside it (Storage's
/// connection for appends confirmed by <c>WAIT</c>, a blocking command that must not stall the shared one).
/// </summary>
/// <remarks>
/// The connection string is parsed by <see cref="ConfigurationOptions.Parse(string)"/> and only timeouts, the
/// client name (when none is given), <c>abortConnect=false</c> and the TLS trust are set on top: everything else it
/// says stays as written, <c>serviceName=</c> too, so a string naming Sentinel endpoints connects through Sentinel
/// (<see cref="ConnectionMultiplexer.Connect(ConfigurationOptions, TextWriter?)"/> asks it for the primary and follows
/// failovers).
/// </remarks>
public sealed class BrokerRedisConnector(IOptions<BrokerRedisSettings> settings, string applicationName, TlsTrust? tls)
{
    /// <summary>A fresh configuration for one connection; <paramref name="purpose"/> is appended to the client name.</summary>
    public ConfigurationOptions Configuration(string? purpose = null)
    {
        var s = settings.Value;
        var options = ConfigurationOptions.Parse(s.ConnectionString!);
        // Start even when Redis is briefly down and keep reconnecting; health reports the outage.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = s.ConnectTimeoutMs;
        options.SyncTimeout = s.CommandTimeoutMs;
        options.AsyncTimeout = s.CommandTimeoutMs;
        options.ClientName ??= applicationName;
        if (purpose is not null)
        {
            options.ClientName += "-" + purpose;
        }
        // ssl=true in the connection string: the server's certificate is checked as every other client's TLS is
        // (the system's CAs or Tls:CaCertificate, host name from sslHost or the address), with Tls:ClientCertificate when set.
        if (options.Ssl && tls is { IsConfigured: true })
        {
            if (tls.HasCaCertificates)
            {
                options.CertificateValidation += tls.ValidateServerCertificate;
            }
            if (tls.ClientCertificate is { } certificate)
            {
                options.CertificateSelection += (_, _, _, _, _) => certificate;
            }
        }
        return options;
    }

    /// <summary>The shared multiplexer (one per process).</summary>
    internal ConnectionMultiplexer ConnectShared() => ConnectionMultiplexer.Connect(Configuration());

    /// <summary>A dedicated multiplexer beside the shared one, for <paramref name="purpose"/>; the caller disposes it.</summary>
    public Task<ConnectionMultiplexer> ConnectAsync(string purpose, Action<ConfigurationOptions>? configure = null)
    {
        var options = Configuration(purpose);
        configure?.Invoke(options);
        return ConnectionMultiplexer.ConnectAsync(options);
    }
}
