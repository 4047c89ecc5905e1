using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// Before anything listens: says which credentials are on, or, with none, says loudly that the service is open, and
/// refuses to start when it would listen beyond loopback unless Auth:AllowAnonymous says that is intended. The
/// addresses are the configured ones (urls / ASPNETCORE_URLS, ASPNETCORE_HTTP(S)_PORTS, Kestrel:Endpoints:*:Url);
/// with none, Kestrel listens on localhost.
/// </summary>
internal sealed class OpenBrokerGuard(IOptions<AuthOptions> options, IConfiguration configuration, ILogger<OpenBrokerGuard> logger)
    : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var auth = options.Value;
        if (auth.Enabled)
        {
            SecurityLog.AuthenticationOn(logger, auth.Keys.Count, string.IsNullOrEmpty(auth.ServiceKey) ? "unset" : "set",
                auth.Jwt.Authority ?? "none", auth.Superusers.Count);
            return Task.CompletedTask;
        }
        var beyond = ConfiguredAddresses(configuration).Where(a => !IsLoopback(a)).ToList();
        if (beyond.Count == 0)
        {
            SecurityLog.OpenOnLoopback(logger);
            return Task.CompletedTask;
        }
        SecurityLog.OpenBeyondLoopback(logger, string.Join(", ", beyond));
        if (!auth.AllowAnonymous)
        {
            throw new InvalidOperationException(
                $"Refusing to start: no authentication is configured and this service would listen beyond loopback ({string.Join(", ", beyond)}). " +
                "Configure Auth:Keys:<principal>, Auth:Jwt:Authority or Auth:ServiceKey, or set Auth:AllowAnonymous=true if an open broker there is intended.");
        }
        return Task.CompletedTask;
    }

    /// <summary>Every address the configuration asks Kestrel to listen on.</summary>
    public static IEnumerable<string> ConfiguredAddresses(IConfiguration configuration)
    {
        foreach (var url in (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            yield return url;
        }
        foreach (var key in new[] { "http_ports", "https_ports" })
        {
            foreach (var port in (configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                // ASPNETCORE_HTTP_PORTS binds every interface.
                yield return $"http://*:{port}";
            }
        }
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is { Length: > 0 } url)
            {
                yield return url;
            }
        }
    }

    public static bool IsLoopback(string url)
    {
        var host = url;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }
        if (host.StartsWith("unix:", StringComparison.OrdinalIgnoreCase) || host.StartsWith("pipe:", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var slash = host.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            host = host[..slash];
        }
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            host = close > 0 ? host[1..close] : host;
        }
        else if (host.LastIndexOf(':') is var colon and > 0)
        {
            host = host[..colon];
        }
        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
