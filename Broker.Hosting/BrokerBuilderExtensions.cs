using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Aspire.Hosting;

/// <summary>Adds the broker to an Aspire app, or names one that runs elsewhere.</summary>
public static class BrokerBuilderExtensions
{
    private static readonly Dictionary<string, (int Http, int Grpc)> s_ports = new(StringComparer.Ordinal)
    {
        [BrokerRoles.Storage] = (5100, 5101),
        [BrokerRoles.Ingest] = (5200, 5201),
        [BrokerRoles.Delivery] = (5300, 5301),
        [BrokerRoles.SchemaRegistry] = (8081, 0),
        [BrokerRoles.DaprComponent] = (5400, 0),
    };

    /// <summary>
    /// Adds the broker: Redis (unless told otherwise), and the projects storage, ingest, delivery and schemaregistry
    /// (and daprcomponent), each with <c>http</c> and <c>grpc</c> endpoints, a /health check, references to what it
    /// depends on (the <c>services__*</c> and <c>ConnectionStrings__redis</c> variables the services read) and waits for
    /// it. The resources take these names, as the services find each other by them: one broker per app.
    /// <c>WithReference(broker)</c> gives a project the connection string <c>ConnectionStrings__{name}</c>.
    /// </summary>
    public static IResourceBuilder<BrokerResource> AddBroker(this IDistributedApplicationBuilder builder, [ResourceName] string name,
        Action<BrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new BrokerOptions();
        configure?.Invoke(options);
        if (options.Replicas is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.Replicas, "The broker's replicas must be from 1 to 16.");
        }
        var source = options.Source ?? FindSource(builder.AppHostDirectory)
            ?? throw new DistributedApplicationException($"AddBroker: no Broker.slnx in {builder.AppHostDirectory} or a folder above it; set BrokerOptions.Source to the broker's source folder.");
        var data = Path.GetFullPath(Path.Combine(source, options.DataDirectory));

        var broker = new BrokerResource(name);
        var notes = new List<string>();
        var redis = Redis(builder, options, data, notes);
        broker.Redis = redis?.Resource;
        var serviceKey = options.AdminKey is null ? null
            // What the services call each other with: theirs alone, made anew each run.
            : builder.AddParameter($"{name}-service-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: false);
        if (options.AdminKey is null && options.Keys.Count > 0)
        {
            throw new DistributedApplicationException("AddBroker: Keys without an AdminKey; with no admin, no one could grant them rights.");
        }
        if (options.AdminKey is not null)
        {
            notes.Add("Auth: every service requires a credential; the principal admin (the admin key) may do anything, and the dashboard's commands act as it.");
        }

        IResourceBuilder<ProjectResource> Service(string role, string project)
        {
            var service = Project(builder, role, Path.Combine(source, project, project + ".csproj"), options, redis);
            if (options.AdminKey is { } adminKey)
            {
                service.WithEnvironment("Auth__Keys__admin", adminKey)
                    .WithEnvironment("Auth__Superusers__0", "admin")
                    .WithEnvironment("Auth__ServiceKey", serviceKey!);
                foreach (var (principal, key) in options.Keys)
                {
                    service.WithEnvironment($"Auth__Keys__{principal}", key);
                }
            }
            broker.Services[role] = service.Resource;
            return service.WithParentRelationship(broker);
        }

        var registry = Service(BrokerRoles.SchemaRegistry, "SchemaRegistry")
            .WithEnvironment("SchemaRegistry__DataDirectory", Path.Combine(data, "schema-registry"));
        var storage = Service(BrokerRoles.Storage, "Broker.Storage");
        Segments(builder, storage, options.S3, data, notes);
        var ingest = Service(BrokerRoles.Ingest, "Broker.Ingest")
            .WithReference(storage).WaitFor(storage).WithReference(registry).WaitFor(registry).WithReplicas(options.Replicas);
        var delivery = Service(BrokerRoles.Delivery, "Broker.Delivery")
            .WithReference(storage).WaitFor(storage).WithReplicas(options.Replicas);
        // The registry reads its ACLs from Storage when keys are set: a reference, not a wait (it starts first).
        registry.WithReference(storage);
        if (options.DaprComponent)
        {
            var sockets = options.DaprSocketsFolder
                ?? (Environment.GetEnvironmentVariable("DAPR_COMPONENTS_SOCKETS_FOLDER") is { Length: > 0 } folder ? folder : Path.Combine(data, "dapr-sockets"));
            Directory.CreateDirectory(sockets);
            var component = Service(BrokerRoles.DaprComponent, "Broker.DaprComponent")
                .WithReference(ingest).WaitFor(ingest).WithReference(delivery).WaitFor(delivery)
                .WithEnvironment("DAPR_COMPONENTS_SOCKETS_FOLDER", sockets)
                .WithEnvironment("DaprComponent__IngestAddress", ingest.GetEndpoint("grpc"))
                .WithEnvironment("DaprComponent__DeliveryAddress", delivery.GetEndpoint("grpc"));
            if (options.AdminKey is { } adminKey)
            {
                // Unless a component's YAML names a token of its own, it calls Ingest and Delivery as admin.
                component.WithEnvironment("DaprComponent__Token", adminKey);
            }
            notes.Add($"Dapr component: socket {Path.Combine(sockets, "broker.sock")} (pubsub.broker).");
        }

        // What a person opens: the registry's subjects, Storage's topics, Delivery's replay jobs.
        registry.WithUrl(ReferenceExpression.Create($"{registry.GetEndpoint("http")}/subjects"), "Subjects");
        storage.WithUrl(ReferenceExpression.Create($"{storage.GetEndpoint("http")}/v1/topics"), "Topics");
        delivery.WithUrl(ReferenceExpression.Create($"{delivery.GetEndpoint("http")}/v1/replays"), "Replays");
        var resource = builder.AddResource(broker)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "Broker",
                State = KnownResourceStates.Starting,
                Properties = [new("broker.data", data), new("broker.notes", string.Join(" ", notes))],
            })
            .WithIconName("BoxMultiple")
            .OnInitializeResource((resource, e, cancellationToken) => BrokerStatus.FollowAsync(resource, notes, e, cancellationToken));
        BrokerCommands.Add(resource, storage, delivery, options.AdminKey);
        return resource;
    }

    /// <summary>
    /// A broker that runs elsewhere: its connection string (<see cref="BrokerResource.ConnectionStringExpression"/>'s
    /// format) from the parameter <c>ConnectionStrings:{name}</c>, a secret. <c>WithReference</c> passes it on.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddBrokerConnection(this IDistributedApplicationBuilder builder, [ResourceName] string name) =>
        builder.AddConnectionString(name);

    private static IResourceBuilder<IResourceWithConnectionString>? Redis(IDistributedApplicationBuilder builder, BrokerOptions options, string data, List<string> notes)
    {
        if (options.WithoutRedis)
        {
            notes.Add(StandIns("no Redis was asked for"));
            return null;
        }
        if (options.Redis is { } given)
        {
            notes.Add($"Redis: {given.Resource.Name}.");
            return given;
        }
        var server = FindOnPath("redis-server");
        if (server is null)
        {
            notes.Add(StandIns("no redis-server on PATH"));
            return null;
        }
        var folder = Path.Combine(data, "redis");
        Directory.CreateDirectory(folder);
        var redis = new RedisServerResource("redis", server, folder);
        var healthKey = "redis_ping";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthKey, _ => new RedisPingHealthCheck(redis), failureStatus: null, tags: null));
        notes.Add($"Redis: {server}, AOF in {folder}.");
        return builder.AddResource(redis)
            .WithEndpoint(name: RedisServerResource.EndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in new[] { "--bind", "127.0.0.1", "--dir", folder, "--appendonly", "yes", "--save", "", "--protected-mode", "yes" })
                {
                    context.Args.Add(arg);
                }
            })
            .WithHealthCheck(healthKey)
            .WithIconName("Database");
    }

    private static IResourceBuilder<ProjectResource> Project(IDistributedApplicationBuilder builder, string role, string path, BrokerOptions options,
        IResourceBuilder<IResourceWithConnectionString>? redis)
    {
        var (httpPort, grpcPort) = s_ports[role];
        // AddProject(name, path) as it is, but with metadata that says the project is built with the AppHost (which
        // references it), so that it is run without a build of its own. The endpoints are only the ones added below: the
        // service's appsettings.json Kestrel:Endpoints (5100, 5101, …) would otherwise become them, ports and all, and
        // FixedPorts = false would change nothing.
#pragma warning disable ASPIREPROJECTS001 // WithProjectDefaults is what AddProject calls; "for evaluation" in Aspire 13.
        var service = builder.AddResource(new ProjectResource(role))
            .WithAnnotation<IProjectMetadata>(new BuiltProject(path))
            .WithProjectDefaults(new ProjectResourceOptions { ExcludeLaunchProfile = true, ExcludeKestrelEndpoints = true })
#pragma warning restore ASPIREPROJECTS001
            .WithHttpEndpoint(port: options.FixedPorts ? httpPort : null, name: "http")
            // Kestrel's endpoints come from the variables below (each with its protocol), not ASPNETCORE_URLS.
            .WithEndpointsInEnvironment(_ => false)
            .WithEnvironment("DOTNET_ENVIRONMENT", options.Environment)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", options.Environment)
            .WithHttpHealthCheck("/health", endpointName: "http");
        var http = service.GetEndpoint("http");
        service.WithEnvironment(context =>
        {
            context.EnvironmentVariables["Kestrel__Endpoints__Http__Url"] = ReferenceExpression.Create($"http://localhost:{http.Property(EndpointProperty.TargetPort)}");
            context.EnvironmentVariables["Kestrel__Endpoints__Http__Protocols"] = "Http1";
        });
        if (grpcPort > 0)
        {
            service.WithHttpEndpoint(port: options.FixedPorts ? grpcPort : null, name: "grpc")
                .WithEndpoint("grpc", endpoint => endpoint.Transport = "http2");
            var grpc = service.GetEndpoint("grpc");
            service.WithEnvironment(context =>
            {
                context.EnvironmentVariables["Kestrel__Endpoints__Grpc__Url"] = ReferenceExpression.Create($"http://localhost:{grpc.Property(EndpointProperty.TargetPort)}");
                context.EnvironmentVariables["Kestrel__Endpoints__Grpc__Protocols"] = "Http2";
            });
        }
        if (redis is not null)
        {
            service.WithReference(redis, connectionName: "redis").WaitFor(redis);
        }
        return service;
    }

    private static void Segments(IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> storage, BrokerS3Options? s3, string data,
        List<string> notes)
    {
        if (s3 is null)
        {
            var folder = Path.Combine(data, "segments");
            storage.WithEnvironment("Storage__Segments__Store", "local").WithEnvironment("Storage__Segments__Directory", folder);
            notes.Add($"Segments: the local-folder store in {folder}.");
            return;
        }
        storage.WithEnvironment("Storage__Segments__Store", "s3")
            .WithEnvironment("Storage__Segments__S3__Bucket", s3.Bucket)
            .WithEnvironment("Storage__Segments__S3__ForcePathStyle", s3.ForcePathStyle || s3.RunS3rver ? "true" : "false");
        if (s3.RunS3rver)
        {
            var s3rver = FindOnPath("s3rver")
                ?? throw new DistributedApplicationException("AddBroker: S3 with RunS3rver, but there is no s3rver on PATH (npm install -g s3rver).");
            var folder = Path.Combine(data, "s3");
            Directory.CreateDirectory(folder);
            var server = builder.AddExecutable("s3", s3rver, folder)
                .WithHttpEndpoint(name: "http")
                .WithIconName("CloudArchive");
            var endpoint = server.GetEndpoint("http");
            server.WithArgs(context =>
            {
                foreach (var arg in new object[] { "-d", folder, "-a", "127.0.0.1", "-p", endpoint.Property(EndpointProperty.TargetPort), "--no-vhost-buckets", "--configure-bucket", s3.Bucket })
                {
                    context.Args.Add(arg);
                }
            });
            // s3rver's fixed credentials.
            storage.WithEnvironment("Storage__Segments__S3__ServiceUrl", endpoint)
                .WithEnvironment("Storage__Segments__S3__AccessKey", "S3RVER")
                .WithEnvironment("Storage__Segments__S3__SecretKey", "S3RVER")
                .WaitFor(server);
            notes.Add($"Segments: S3 bucket {s3.Bucket} in s3rver, its files in {folder}.");
            return;
        }
        if (s3.ServiceUrl is { Length: > 0 } url)
        {
            storage.WithEnvironment("Storage__Segments__S3__ServiceUrl", url);
        }
        if (s3.Region is { Length: > 0 } region)
        {
            storage.WithEnvironment("Storage__Segments__S3__Region", region);
        }
        if (s3.AccessKey is { } accessKey)
        {
            storage.WithEnvironment("Storage__Segments__S3__AccessKey", accessKey);
        }
        if (s3.SecretKey is { } secretKey)
        {
            storage.WithEnvironment("Storage__Segments__S3__SecretKey", secretKey);
        }
        notes.Add($"Segments: S3 bucket {s3.Bucket}{(s3.ServiceUrl is null ? "" : $" at {s3.ServiceUrl}")}.");
    }

    private static string StandIns(string why) =>
        $"Redis: none ({why}). The services run on their in-process stand-ins: nothing in the hot tier survives a restart, and " +
        "Ingest and Delivery replicas do not share groups.";

    /// <summary>The first folder from <paramref name="start"/> upwards that holds Broker.slnx.</summary>
    public static string? FindSource(string start)
    {
        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Broker.slnx")))
            {
                return folder.FullName;
            }
        }
        return null;
    }

    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    /// <summary>A service project built with the AppHost: Aspire runs it without building it again.</summary>
    private sealed class BuiltProject(string path) : IProjectMetadata
    {
        public string ProjectPath => path;

        public bool SuppressBuild => true;
    }
}
