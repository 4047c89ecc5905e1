using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Broker.AppHost.Resources;

/// <summary>
/// The resources and how they depend on each other: redis (unless the stand-ins are used), schemaregistry and storage
/// on it, ingest on storage and the registry, delivery on redis and storage, and optionally the Dapr component host on
/// ingest and delivery. <see cref="Notes"/> says what was chosen where something was left out.
/// </summary>
internal sealed class ResourceModel
{
    /// <summary>The default ports of the services: Storage 5100/5101, Ingest 5200/5201, Delivery 5300/5301, the registry 8081 (Confluent's).</summary>
    public static readonly IReadOnlyDictionary<string, (int Http, int Grpc)> DefaultPorts = new Dictionary<string, (int, int)>
    {
        ["storage"] = (5100, 5101),
        ["ingest"] = (5200, 5201),
        ["delivery"] = (5300, 5301),
        ["schemaregistry"] = (8081, 0),
        ["daprcomponent"] = (5400, 0),
    };

    private ResourceModel(IReadOnlyList<Resource> resources, IReadOnlyList<string> notes)
    {
        Resources = resources;
        Notes = notes;
    }

    /// <summary>In start order: every resource after what it depends on.</summary>
    public IReadOnlyList<Resource> Resources { get; }

    public IReadOnlyList<string> Notes { get; }

    public static ResourceModel Build(AppHostOptions options, string repositoryRoot, string servicesDirectory, string configuration, HttpClient health)
    {
        var data = Path.GetFullPath(Path.Combine(repositoryRoot, options.DataDirectory));
        var notes = new List<string>();
        var resources = new List<Resource>();

        // Redis: ours, someone's, or none (the services' stand-ins, said plainly).
        RedisResource? redis = null;
        string? redisConnection = null;
        switch (options.Redis.Mode)
        {
            case "external":
                redisConnection = options.Redis.ConnectionString
                    ?? throw new InvalidOperationException("AppHost:Redis:Mode is external, but AppHost:Redis:ConnectionString is not set.");
                notes.Add($"Redis: yours, at {redisConnection}.");
                break;
            case "none":
                notes.Add(StandIns("AppHost:Redis:Mode is none"));
                break;
            default:
                var server = RedisResource.Find(options.Redis.Path);
                if (server is null)
                {
                    if (options.Redis.Mode == "server")
                    {
                        throw new InvalidOperationException($"AppHost:Redis:Mode is server, but no redis-server was found ({options.Redis.Path ?? "on PATH"}).");
                    }
                    notes.Add(StandIns($"no redis-server {(options.Redis.Path is null ? "on PATH" : $"at {options.Redis.Path}")}"));
                    break;
                }
                redis = new RedisResource(server, options.Redis.Port > 0 ? options.Redis.Port : FreePort(), Path.Combine(data, "redis"));
                redisConnection = redis.ConnectionString;
                resources.Add(redis);
                notes.Add($"Redis: {server} on {redis.ConnectionString}, AOF on.");
                break;
        }

        ServiceResource Service(string name, string project)
        {
            var (http, grpc) = DefaultPorts[name];
            if (options.Ports.TryGetValue(name, out var configured))
            {
                http = configured.Http > 0 ? configured.Http : http;
                grpc = grpc > 0 && configured.Grpc > 0 ? configured.Grpc : grpc;
            }
            var service = new ServiceResource(name, project, Path.Combine(servicesDirectory, project, configuration), http, grpc, health);
            service.Environment["DOTNET_ENVIRONMENT"] = options.Environment;
            service.Environment["ASPNETCORE_ENVIRONMENT"] = options.Environment;
            service.Environment["OTEL_SERVICE_NAME"] = name;
            service.Environment["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={name}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
            var otlp = options.OtlpEndpoint ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
            if (!string.IsNullOrEmpty(otlp))
            {
                service.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp;
                foreach (var passed in new[] { "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_METRIC_EXPORT_INTERVAL" })
                {
                    if (Environment.GetEnvironmentVariable(passed) is { Length: > 0 } value)
                    {
                        service.Environment[passed] = value;
                    }
                }
            }
            if (redisConnection is not null)
            {
                service.Environment["ConnectionStrings__redis"] = redisConnection;
            }
            resources.Add(service);
            return service;
        }

        var registry = Service("schemaregistry", "SchemaRegistry").WaitsFor(redis);
        ((ServiceResource)registry).Environment["SchemaRegistry__DataDirectory"] = Path.Combine(data, "schema-registry");

        var storage = (ServiceResource)Service("storage", "Broker.Storage").WaitsFor(redis);
        if (!string.IsNullOrEmpty(options.S3.Bucket))
        {
            storage.Environment["Storage__Segments__Store"] = "s3";
            storage.Environment["Storage__Segments__S3__Bucket"] = options.S3.Bucket;
            Set(storage, "Storage__Segments__S3__ServiceUrl", options.S3.ServiceUrl);
            Set(storage, "Storage__Segments__S3__Region", options.S3.Region);
            Set(storage, "Storage__Segments__S3__AccessKey", options.S3.AccessKey);
            Set(storage, "Storage__Segments__S3__SecretKey", options.S3.SecretKey);
            storage.Environment["Storage__Segments__S3__ForcePathStyle"] = options.S3.ForcePathStyle ? "true" : "false";
            notes.Add($"Segments: S3 bucket {options.S3.Bucket}{(options.S3.ServiceUrl is null ? "" : $" at {options.S3.ServiceUrl}")}.");
        }
        else
        {
            var segments = Path.Combine(data, "segments");
            storage.Environment["Storage__Segments__Store"] = "local";
            storage.Environment["Storage__Segments__Directory"] = segments;
            notes.Add($"Segments: the local-folder store in {segments} (set AppHost:S3:Bucket for S3).");
        }

        var ingest = (ServiceResource)Service("ingest", "Broker.Ingest").WaitsFor(storage, registry);
        var delivery = (ServiceResource)Service("delivery", "Broker.Delivery").WaitsFor(redis, storage);
        foreach (var service in resources.OfType<ServiceResource>())
        {
            // Service discovery, the Aspire way: services__<name>__<endpoint>__0.
            foreach (var other in new[] { storage, ingest, delivery, (ServiceResource)registry })
            {
                service.Environment[$"services__{other.Name}__http__0"] = other.HttpUrl;
                if (other.GrpcPort > 0)
                {
                    service.Environment[$"services__{other.Name}__grpc__0"] = other.GrpcUrl;
                }
            }
        }

        if (options.DaprComponent)
        {
            var component = (ServiceResource)Service("daprcomponent", "Broker.DaprComponent").WaitsFor(ingest, delivery);
            var sockets = Environment.GetEnvironmentVariable("DAPR_COMPONENTS_SOCKETS_FOLDER") is { Length: > 0 } folder ? folder : Path.Combine(data, "dapr-sockets");
            component.Environment["DAPR_COMPONENTS_SOCKETS_FOLDER"] = sockets;
            component.Environment["DaprComponent__IngestAddress"] = ingest.GrpcUrl;
            component.Environment["DaprComponent__DeliveryAddress"] = delivery.GrpcUrl;
            component.Notes.Add($"socket {Path.Combine(sockets, "broker.sock")} (pubsub.broker)");
        }
        return new ResourceModel(resources, notes);
    }

    private static string StandIns(string why) =>
        $"Redis: none ({why}). The services run on their embedded stand-ins: Storage's in-process hot tier, Delivery's " +
        "in-process groups, the registry's file store. Nothing in the hot tier survives a restart.";

    private static void Set(ServiceResource service, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            service.Environment[key] = value;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
