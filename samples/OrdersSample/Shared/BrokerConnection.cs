using System.Data.Common;

namespace Orders;

/// <summary>
/// The broker's public endpoints, read from its connection string. Broker.Hosting's <c>AddBroker</c> gives each project
/// that has <c>WithReference(broker)</c> the setting <c>ConnectionStrings:broker</c> (the variable
/// <c>ConnectionStrings__broker</c>) in this format:
/// <code>Storage=http://…;StorageGrpc=http://…;Ingest=http://…;IngestGrpc=http://…;Delivery=http://…;DeliveryGrpc=http://…;SchemaRegistry=http://…</code>
/// Storage's REST API manages topics, Ingest's produces, Delivery's consumes (and delivers to Dapr apps); the <c>…Grpc</c>
/// endpoints serve the same over gRPC (Broker.Contracts/Protos). It is read with <see cref="DbConnectionStringBuilder"/>,
/// so keys are case-insensitive and a value may be quoted; give a broker that runs elsewhere the same string.
/// </summary>
public sealed class BrokerConnection
{
    private readonly Dictionary<string, Uri> _endpoints;

    private BrokerConnection(Dictionary<string, Uri> endpoints) => _endpoints = endpoints;

    /// <summary>Storage's REST API: topics (<c>PUT /v1/topics/{topic}</c>).</summary>
    public Uri Storage => this["Storage"];

    /// <summary>Ingest's REST API: produce (<c>POST /v1/topics/{topic}/records</c>).</summary>
    public Uri Ingest => this["Ingest"];

    /// <summary>Delivery's REST API: consumer groups (<c>POST /v1/groups/{group}/topics/{topic}/poll</c>, <c>/acks</c>) and Dapr apps (<c>PUT /v1/apps/{appId}</c>).</summary>
    public Uri Delivery => this["Delivery"];

    /// <summary>An endpoint by its key (Storage, StorageGrpc, Ingest, IngestGrpc, Delivery, DeliveryGrpc, SchemaRegistry).</summary>
    public Uri this[string key] => _endpoints.TryGetValue(key, out var endpoint)
        ? endpoint
        : throw new InvalidOperationException($"The broker's connection string has no {key}=<url> (it has {string.Join(", ", _endpoints.Keys)}).");

    /// <summary>Reads <c>ConnectionStrings:{name}</c>; fails, saying how to set it, when it is missing or not valid.</summary>
    public static BrokerConnection FromConfiguration(IConfiguration configuration, string name = "broker") =>
        configuration.GetConnectionString(name) is { Length: > 0 } connectionString
            ? Parse(connectionString)
            : throw new InvalidOperationException($"ConnectionStrings:{name} is not set. Run the app from Orders.AppHost (WithReference({name})) or set " +
                $"ConnectionStrings__{name}=\"Storage=http://localhost:5100;Ingest=http://localhost:5200;Delivery=http://localhost:5300\".");

    /// <summary>Parses <c>Key=url;Key=url</c>: every value an absolute http:// or https:// URL.</summary>
    public static BrokerConnection Parse(string connectionString)
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var endpoints = new Dictionary<string, Uri>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in builder.Keys)
        {
            var value = Convert.ToString(builder[key], System.Globalization.CultureInfo.InvariantCulture);
            if (!Uri.TryCreate(value, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                throw new FormatException($"The broker's connection string gives {key}='{value}': each value is an absolute http:// or https:// URL.");
            }
            endpoints[key] = endpoint;
        }
        return new BrokerConnection(endpoints);
    }
}
