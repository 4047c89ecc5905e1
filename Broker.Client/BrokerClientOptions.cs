using System.Data.Common;
using System.Net.Security;

namespace Broker.Client;

/// <summary>
/// Where the broker's services are and who the client is. Read from the connection string Aspire's
/// <c>WithReference(broker)</c> writes (<see cref="FromConnectionString"/>) or set property by property.
/// </summary>
public sealed class BrokerClientOptions
{
    /// <summary>Storage's REST endpoint (topics, ACLs): e.g. <c>http://localhost:5100</c>.</summary>
    public Uri? Storage { get; set; }

    /// <summary>Ingest's gRPC endpoint (the produce stream): e.g. <c>http://localhost:5201</c>.</summary>
    public Uri? IngestGrpc { get; set; }

    /// <summary>Ingest's REST endpoint: e.g. <c>http://localhost:5200</c>.</summary>
    public Uri? Ingest { get; set; }

    /// <summary>Delivery's gRPC endpoint (the consume stream): e.g. <c>http://localhost:5301</c>.</summary>
    public Uri? DeliveryGrpc { get; set; }

    /// <summary>Delivery's REST endpoint (groups, replay jobs): e.g. <c>http://localhost:5300</c>.</summary>
    public Uri? Delivery { get; set; }

    /// <summary>The schema registry's REST endpoint: e.g. <c>http://localhost:8081</c>.</summary>
    public Uri? SchemaRegistry { get; set; }

    /// <summary>An API key or JWT, sent as <c>Authorization: Bearer</c> on every call; none for an open broker.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Decides whether a TLS server certificate is trusted (a private CA, say); null: the system's trust, as always.
    /// Applies to every gRPC channel and HTTP client the client makes.
    /// </summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>
    /// Sends every request of the client instead of its own sockets (a proxy's handler, an in-process test server's);
    /// null: the client's own. The token is still added over it; <see cref="ServerCertificateValidation"/> is then the
    /// handler's business. Shared, not owned: the client never disposes it.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>The connection string's keys, in the order <c>BrokerResource</c> writes them.</summary>
    private static readonly string[] s_keys = ["Storage", "StorageGrpc", "Ingest", "IngestGrpc", "Delivery", "DeliveryGrpc", "SchemaRegistry", "Token"];

    /// <summary>
    /// Reads <c>Storage=…;StorageGrpc=…;Ingest=…;IngestGrpc=…;Delivery=…;DeliveryGrpc=…;SchemaRegistry=…</c> (any
    /// subset, any order; keys are case-insensitive), with an optional <c>Token=…</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A key is unknown or a value is not an absolute http(s) URL.</exception>
    public static BrokerClientOptions FromConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var parsed = new DbConnectionStringBuilder();
        try
        {
            parsed.ConnectionString = connectionString;
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"The broker's connection string is not key=value pairs separated by ';': {ex.Message}", nameof(connectionString));
        }
        var options = new BrokerClientOptions();
        foreach (string key in parsed.Keys)
        {
            var value = parsed[key]?.ToString() ?? "";
            var known = s_keys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"The broker's connection string has an unknown key '{key}'; it takes {string.Join(", ", s_keys)}.", nameof(connectionString));
            if (known == "Token")
            {
                options.Token = value;
                continue;
            }
            var url = Url(known, value);
            switch (known)
            {
                case "Storage": options.Storage = url; break;
                case "Ingest": options.Ingest = url; break;
                case "IngestGrpc": options.IngestGrpc = url; break;
                case "Delivery": options.Delivery = url; break;
                case "DeliveryGrpc": options.DeliveryGrpc = url; break;
                case "SchemaRegistry": options.SchemaRegistry = url; break;
                default: break; // StorageGrpc: the client has no use for it yet.
            }
        }
        return options;
    }

    /// <summary>The endpoint <paramref name="name"/> or a clear error that it is missing.</summary>
    internal static Uri Required(Uri? endpoint, string name) =>
        endpoint ?? throw new InvalidOperationException($"The broker client has no {name} endpoint: set BrokerClientOptions.{name} or '{name}=' in the connection string.");

    private static Uri Url(string key, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new ArgumentException($"The broker's connection string's {key} is not an absolute http:// or https:// URL.", nameof(value));
}
