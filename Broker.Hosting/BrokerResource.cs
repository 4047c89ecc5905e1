using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// The broker in an Aspire app: a parent resource over its services (Storage, Ingest, Delivery, the schema registry, and
/// the Dapr component host when asked for), Running once every one of them is healthy. Its connection string names the
/// endpoints a client needs (see <see cref="ConnectionStringExpression"/>).
/// </summary>
public sealed class BrokerResource(string name) : Resource(name), IResourceWithConnectionString
{
    /// <summary>The services, by their role: storage, ingest, delivery, schemaregistry, daprcomponent.</summary>
    public Dictionary<string, ProjectResource> Services { get; } = new(StringComparer.Ordinal);

    /// <summary>The Redis the services keep their hot data in; null when they run on their in-process stand-ins.</summary>
    public IResourceWithConnectionString? Redis { get; internal set; }

    /// <summary>
    /// <c>Storage={url};StorageGrpc={url};Ingest={url};IngestGrpc={url};Delivery={url};DeliveryGrpc={url};SchemaRegistry={url}</c>:
    /// every public endpoint of the broker, as a DbConnectionStringBuilder reads it.
    /// </summary>
    public ReferenceExpression ConnectionStringExpression
    {
        get
        {
            var builder = new ReferenceExpressionBuilder();
            var first = true;
            foreach (var (key, role, endpoint) in s_endpoints)
            {
                if (!Services.TryGetValue(role, out var service))
                {
                    continue;
                }
                builder.AppendLiteral(first ? $"{key}=" : $";{key}=");
                builder.Append($"{service.GetEndpoint(endpoint)}");
                first = false;
            }
            return builder.Build();
        }
    }

    private static readonly (string Key, string Role, string Endpoint)[] s_endpoints =
    [
        ("Storage", BrokerRoles.Storage, "http"), ("StorageGrpc", BrokerRoles.Storage, "grpc"),
        ("Ingest", BrokerRoles.Ingest, "http"), ("IngestGrpc", BrokerRoles.Ingest, "grpc"),
        ("Delivery", BrokerRoles.Delivery, "http"), ("DeliveryGrpc", BrokerRoles.Delivery, "grpc"),
        ("SchemaRegistry", BrokerRoles.SchemaRegistry, "http"),
    ];
}

/// <summary>The services' roles, which are also their resource names' suffixes and their service-discovery names.</summary>
public static class BrokerRoles
{
    public const string Storage = "storage";
    public const string Ingest = "ingest";
    public const string Delivery = "delivery";
    public const string SchemaRegistry = "schemaregistry";
    public const string DaprComponent = "daprcomponent";
}
