using System.ComponentModel.DataAnnotations;

namespace Broker.AppHost;

/// <summary>What AppHost runs and where; bound from "AppHost" (appsettings.json, AppHost__* variables, --AppHost:… arguments).</summary>
public sealed class AppHostOptions
{
    public const string SectionName = "AppHost";

    /// <summary>Where Redis's AOF, the local segment store and the registry's file live; relative to the repository root.</summary>
    [Required]
    public string DataDirectory { get; set; } = ".data/apphost";

    /// <summary>The services' DOTNET_ENVIRONMENT / ASPNETCORE_ENVIRONMENT.</summary>
    [Required]
    public string Environment { get; set; } = "Development";

    public RedisSettings Redis { get; set; } = new();

    public S3Settings S3 { get; set; } = new();

    /// <summary>Each service's REST and gRPC ports, by resource name (storage, ingest, delivery, schemaregistry, daprcomponent).</summary>
    public Dictionary<string, PortSettings> Ports { get; set; } = [];

    /// <summary>Where the services send traces, metrics and logs (OTLP); unset: OTEL_EXPORTER_OTLP_ENDPOINT, else nowhere.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Also run the Dapr pluggable component host (Broker.DaprComponent), its socket in DataDirectory/dapr-sockets unless DAPR_COMPONENTS_SOCKETS_FOLDER says.</summary>
    public bool DaprComponent { get; set; }

    /// <summary>How long a resource may take to answer healthy before AppHost says so (it keeps waiting).</summary>
    [Range(1, 3600)]
    public int HealthTimeoutSeconds { get; set; } = 60;

    /// <summary>How long a resource has to stop on SIGTERM before it is killed.</summary>
    [Range(1, 300)]
    public int StopTimeoutSeconds { get; set; } = 10;

    /// <summary>The longest wait before restarting a crashed resource (the wait doubles from 1 s up to this).</summary>
    [Range(1000, 600_000)]
    public int RestartMaxDelayMs { get; set; } = 30_000;

    /// <summary>Where the services' build output is (artifacts/bin/&lt;Service&gt;/&lt;configuration&gt;); unset: next to AppHost's own.</summary>
    public string? ServicesDirectory { get; set; }

    public sealed class RedisSettings
    {
        /// <summary>
        /// auto: redis-server from Path or PATH, else the services' embedded stand-ins; server: redis-server, failing
        /// when there is none; external: ConnectionString; none: the stand-ins.
        /// </summary>
        [Required, RegularExpression("^(auto|server|external|none)$")]
        public string Mode { get; set; } = "auto";

        /// <summary>redis-server's path; unset: looked for on PATH.</summary>
        public string? Path { get; set; }

        /// <summary>redis-server's port; 0: a free one.</summary>
        [Range(0, 65535)]
        public int Port { get; set; }

        /// <summary>With Mode external: the StackExchange.Redis configuration string of a Redis you run.</summary>
        public string? ConnectionString { get; set; }
    }

    /// <summary>The S3 segment store (any S3-compatible server); no bucket: the local-folder store.</summary>
    public sealed class S3Settings
    {
        public string? Bucket { get; set; }
        public string? ServiceUrl { get; set; }
        public string? Region { get; set; }
        public bool ForcePathStyle { get; set; }
        public string? AccessKey { get; set; }
        public string? SecretKey { get; set; }
    }

    public sealed class PortSettings
    {
        [Range(1, 65535)]
        public int Http { get; set; }

        [Range(0, 65535)]
        public int Grpc { get; set; }
    }
}
