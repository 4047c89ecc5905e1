using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Broker.ServiceDefaults.Hosting;

/// <summary>
/// Which setting put Kestrel on an address, so a message can say how to move it. Kestrel's own order: endpoints named
/// under Kestrel:Endpoints (each service's appsettings.json names Http, and Grpc where it serves gRPC; the AppHost sets
/// them as Kestrel__Endpoints__*__Url) win, and while any is set the urls (ASPNETCORE_URLS, --urls) and
/// ASPNETCORE_HTTP(S)_PORTS are ignored; without them those apply; with none of these, http://localhost:5000.
/// </summary>
internal static class ListenSettings
{
    private const string UrlsIgnored = "ASPNETCORE_URLS and --urls are ignored while Kestrel:Endpoints are set";

    /// <summary>
    /// The address as configured (or as Kestrel named it) and the settings that move it. <paramref name="failure"/> is
    /// Kestrel's message, which names the address it could not bind ("Failed to bind to address http://127.0.0.1:5100: ...").
    /// </summary>
    public static (string Address, string Settings) Explain(IConfiguration configuration, string failure)
    {
        var failed = FailedAddress(failure);
        var port = failed is null ? null : Port(failed);

        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Where(e => !string.IsNullOrEmpty(e["Url"])).ToList();
        if (endpoints.Count > 0)
        {
            foreach (var endpoint in endpoints)
            {
                var url = endpoint["Url"]!;
                if (port is not null && Port(url) == port)
                {
                    var example = WithPortPlaceholder(url);
                    return (url, $"Kestrel:Endpoints:{endpoint.Key}:Url (Kestrel__Endpoints__{endpoint.Key}__Url={example}, or " +
                        $"--Kestrel:Endpoints:{endpoint.Key}:Url={example}); {UrlsIgnored}.");
                }
            }
            return (failed ?? "its address", $"Kestrel:Endpoints:<name>:Url (this service sets {string.Join(", ", endpoints.Select(e => e.Key))}); {UrlsIgnored}.");
        }

        foreach (var url in Split(configuration["urls"]))
        {
            if (port is not null && Port(url) == port)
            {
                return (url, $"ASPNETCORE_URLS / --urls ({WithPortPlaceholder(url)}), or Kestrel:Endpoints:Http:Url.");
            }
        }
        foreach (var (key, variable) in new[] { ("http_ports", "ASPNETCORE_HTTP_PORTS"), ("https_ports", "ASPNETCORE_HTTPS_PORTS") })
        {
            if (port is not null && Split(configuration[key]).Contains(port.Value.ToString(CultureInfo.InvariantCulture)))
            {
                return (failed!, $"{variable} / --{key}, or ASPNETCORE_URLS / --urls, or Kestrel:Endpoints:Http:Url.");
            }
        }
        return (failed ?? "its address", "ASPNETCORE_URLS / --urls (http://localhost:<port>), or Kestrel:Endpoints:Http:Url.");
    }

    /// <summary>The first URL in Kestrel's message, without the punctuation after it.</summary>
    private static string? FailedAddress(string failure) =>
        failure.Split(' ').FirstOrDefault(w => w.Contains("://", StringComparison.Ordinal))?.TrimEnd(':', '.', ',');

    private static int? Port(string url)
    {
        try
        {
            var address = BindingAddress.Parse(url);
            return address.IsUnixPipe || address.IsNamedPipe ? null : address.Port;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>http://localhost:5100 as http://localhost:&lt;port&gt;.</summary>
    private static string WithPortPlaceholder(string url)
    {
        var address = BindingAddress.Parse(url);
        return $"{address.Scheme}://{address.Host}:<port>{address.PathBase}";
    }

    private static string[] Split(string? value) =>
        (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
