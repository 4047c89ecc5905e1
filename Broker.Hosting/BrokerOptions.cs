using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>What <see cref="BrokerBuilderExtensions.AddBroker"/> runs and where.</summary>
public sealed class BrokerOptions
{
    /// <summary>
    /// The broker's source folder (where Broker.slnx is); unset: the first such folder from the AppHost's folder upwards.
    /// The AppHost must reference the service projects so that they are built with it (they are run without a build).
    /// </summary>
    public string? Source { get; set; }

    /// <summary>Where Redis's AOF, the local segment store and the registry's files live; relative to <see cref="Source"/>.</summary>
    public string DataDirectory { get; set; } = ".data/apphost";

    /// <summary>
    /// The Redis to use (Aspire.Hosting.Redis's container, or <c>AddConnectionString("redis")</c> for yours). Unset:
    /// <c>redis-server</c> from PATH as an executable resource, or, without one, the services' in-process stand-ins.
    /// </summary>
    public IResourceBuilder<IResourceWithConnectionString>? Redis { get; set; }

    /// <summary>Leave Redis out on purpose: the services run on their in-process stand-ins.</summary>
    public bool WithoutRedis { get; set; }

    /// <summary>Segments in S3 (any S3-compatible server); unset: the local-folder store under <see cref="DataDirectory"/>.</summary>
    public BrokerS3Options? S3 { get; set; }

    /// <summary>How many instances of Ingest and of Delivery run (behind one endpoint each).</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>Also run the Dapr pluggable component host; its socket in <see cref="DaprSocketsFolder"/>.</summary>
    public bool DaprComponent { get; set; }

    /// <summary>Where the Dapr component's socket goes; unset: DAPR_COMPONENTS_SOCKETS_FOLDER, else DataDirectory/dapr-sockets.</summary>
    public string? DaprSocketsFolder { get; set; }

    /// <summary>
    /// The services' ports (brokerctl's defaults): Storage 5100/5101, Ingest 5200/5201, Delivery 5300/5301, the registry
    /// 8081, the component host 5400. False: ports Aspire chooses.
    /// </summary>
    public bool FixedPorts { get; set; } = true;

    /// <summary>
    /// The operator's API key, a secret parameter. With it every service requires a credential (docs/security.md): the
    /// principal <c>admin</c> holds this key and may do anything, the services call each other with a key generated each
    /// run (the parameter <c>{name}-service-key</c>), and the broker's dashboard commands act as admin. Unset: the broker
    /// runs open, everyone anonymous, as it may on loopback.
    /// </summary>
    public IResourceBuilder<ParameterResource>? AdminKey { get; set; }

    /// <summary>
    /// More principals' API keys (secret parameters), with <see cref="AdminKey"/>: the key a project of yours is given
    /// (<c>Auth__Keys__{principal}</c> on every service). What each principal may do is an ACL admin grants (brokerctl acls).
    /// </summary>
    public IDictionary<string, IResourceBuilder<ParameterResource>> Keys { get; } = new Dictionary<string, IResourceBuilder<ParameterResource>>(StringComparer.Ordinal);

    /// <summary>The services' DOTNET_ENVIRONMENT / ASPNETCORE_ENVIRONMENT.</summary>
    public string Environment { get; set; } = "Development";
}

/// <summary>The S3 segment store: a bucket, and where and as whom to reach it (the keys as secret parameters).</summary>
public sealed class BrokerS3Options
{
    public required string Bucket { get; set; }

    /// <summary>An S3-compatible server's URL; unset: AWS.</summary>
    public string? ServiceUrl { get; set; }

    public string? Region { get; set; }

    public bool ForcePathStyle { get; set; }

    public IResourceBuilder<ParameterResource>? AccessKey { get; set; }

    public IResourceBuilder<ParameterResource>? SecretKey { get; set; }

    /// <summary>
    /// Run the npm package <c>s3rver</c> (from PATH) as an executable resource named <c>s3</c> and keep the segments
    /// there, to see the S3 path locally; ServiceUrl and the keys are then its own.
    /// </summary>
    public bool RunS3rver { get; set; }
}
