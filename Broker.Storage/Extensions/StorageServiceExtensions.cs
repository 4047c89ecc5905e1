using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Tls;
using Broker.Storage;
using Broker.Storage.Acls;
using Broker.Storage.Apis;
using Broker.Storage.Groups;
using Broker.Storage.HotTier;
using Broker.Storage.Log;
using Broker.Storage.Retention;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Tiering;
using Broker.Storage.Topics;
using Broker.Storage.Waiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class StorageServiceExtensions
{
    /// <summary>The Redis connection's name: ConnectionStrings:redis.</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>
    /// Storage's services: the log, topics, group offsets and the hot tier, in Redis when
    /// ConnectionStrings:redis is set (or Storage:HotTier is "redis"), otherwise in process memory; with a
    /// Redis hot tier, the cold tier too (segments in S3 or a local folder, Storage:Segments) and tiering.
    /// </summary>
    public static IHostApplicationBuilder AddStorageServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>()
            .BindConfiguration(StorageOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.DefaultReadBytes <= o.MaxReadBytes, "Storage:DefaultReadBytes must not exceed Storage:MaxReadBytes.")
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new RedisKeys(options.KeyPrefix));
        builder.Services.AddSingleton<AppendSignals>();
        builder.Services.AddHostedService<AppendSignalsPruner>();
        builder.Services.AddSingleton<StorageMetrics>();
        builder.Services.AddSingleton<TieringMetrics>();
        builder.Services.AddSingleton<TopicRegistry>();
        builder.Services.AddSingleton<PartitionLog>();
        builder.Services.AddSingleton<TailStreams>();

        var useRedis = options.HotTier switch
        {
            "redis" => true,
            "memory" => false,
            _ => builder.HasRedisConnectionString(RedisConnectionName),
        };
        if (useRedis)
        {
            builder.AddBrokerRedis(RedisConnectionName);
            builder.Services.AddSingleton<ReplicatedAppends>();
            builder.Services.AddSingleton<IHotTier, RedisHotTier>();
            builder.Services.AddSingleton<ITopicStore, RedisTopicStore>();
            builder.Services.AddSingleton<IGroupOffsetStore, RedisGroupOffsetStore>();
            builder.Services.AddHostedService<RedisAppendSubscriber>();
            builder.Services.AddSingleton<IAclStore, RedisAclStore>();
            AddColdTier(builder);
        }
        else
        {
            builder.Services.AddSingleton<IHotTier, InMemoryHotTier>();
            builder.Services.AddSingleton<ITopicStore, InMemoryTopicStore>();
            builder.Services.AddSingleton<IGroupOffsetStore, InMemoryGroupOffsetStore>();
            builder.Services.AddSingleton<IAclStore, InMemoryAclStore>();
        }
        // Storage keeps the ACLs: its own checks read this cache, and the other services watch it (AclGrpcService).
        builder.Services.AddSingleton<AclCache>();
        builder.Services.AddSingleton<IAclSource>(sp => sp.GetRequiredService<AclCache>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AclCache>());
        builder.Services.AddHostedService<HotTierAnnouncement>();
        builder.Services.AddSingleton<RetentionService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());

        builder.Services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<LogExceptionInterceptor>();
            // A request carries one batch. gRPC's own limit sits well above ours so an oversized batch
            // meets the log's check, whose error names Storage:MaxBatchBytes; only a grossly oversized
            // message gets gRPC's generic RESOURCE_EXHAUSTED. A response holds at most the read limit
            // plus one whole batch.
            grpc.MaxReceiveMessageSize = (2 * options.MaxBatchBytes) + (64 * 1024);
            grpc.MaxSendMessageSize = options.MaxReadBytes + options.MaxBatchBytes + (64 * 1024);
        });
        return builder;
    }

    /// <summary>The segment store Storage:Segments names (S3 when a bucket is set, else a local folder), unless it is "none".</summary>
    private static void AddColdTier(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SegmentStoreOptions>().BindConfiguration(SegmentStoreOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.Store != "s3" || !string.IsNullOrWhiteSpace(o.S3.Bucket), "Storage:Segments:S3:Bucket must be set when Storage:Segments:Store is s3.")
            .ValidateOnStart();
        builder.Services.AddOptions<TieringOptions>().BindConfiguration(TieringOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var segments = builder.Configuration.GetSection(SegmentStoreOptions.SectionName).Get<SegmentStoreOptions>() ?? new SegmentStoreOptions();
        if (segments.Store == "none")
        {
            return;
        }
        var useS3 = segments.Store == "s3" || (segments.Store == "auto" && !string.IsNullOrWhiteSpace(segments.S3.Bucket));
        builder.Services.AddSingleton<ISegmentStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SegmentStoreOptions>>().Value;
            ISegmentStore inner = useS3 ? new S3SegmentStore(o.S3, sp.GetService<TlsTrust>()) : new LocalSegmentStore(o.Directory);
            return new ResilientSegmentStore(inner, o, sp.GetRequiredService<TieringMetrics>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<ResilientSegmentStore>());
        });
        builder.Services.AddSingleton<SegmentManifest>();
        builder.Services.AddSingleton(sp => new ColdReader(sp.GetRequiredService<ISegmentStore>(), sp.GetRequiredService<SegmentManifest>(),
            sp.GetRequiredService<IOptions<TieringOptions>>().Value, sp.GetRequiredService<TieringMetrics>(),
            sp.GetRequiredService<IOptions<SegmentStoreOptions>>().Value.Prefix));
        builder.Services.AddSingleton(sp => new TieringSchedule(sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<RedisKeys>(),
            sp.GetRequiredService<IOptions<TieringOptions>>().Value));
        builder.Services.AddSingleton(sp => new ColdTier(sp.GetRequiredService<ISegmentStore>(), sp.GetRequiredService<SegmentManifest>(),
            sp.GetRequiredService<ColdReader>(), sp.GetRequiredService<TieringSchedule>(), sp.GetRequiredService<IOptions<TieringOptions>>().Value,
            sp.GetRequiredService<TieringMetrics>(), sp.GetRequiredService<ILogger<ColdTier>>()));
        builder.Services.AddSingleton<TieringService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TieringService>());
        builder.Services.AddSingleton<SegmentSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SegmentSweeper>());
    }

    public static WebApplication MapStorageApi(this WebApplication app)
    {
        var maxRequestBytes = app.Services.GetRequiredService<IOptions<StorageOptions>>().Value.MaxRequestBytes;
        app.MapTopicsApi().WithRequestBodyLimit(maxRequestBytes);
        app.MapAclsApi().WithRequestBodyLimit(maxRequestBytes);
        app.MapGrpcService<LogGrpcService>();
        app.MapGrpcService<AclGrpcService>();
        return app;
    }

    /// <summary>Says at start-up which hot tier runs, loudly when it is not durable.</summary>
    private sealed class HotTierAnnouncement(
        IHotTier hotTier, IServiceProvider services, IOptions<StorageOptions> options, ILogger<HotTierAnnouncement> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (hotTier.IsDurable)
            {
                var redis = services.GetRequiredService<IConnectionMultiplexer>();
                StorageLog.RedisHotTier(logger, string.Join(",", redis.GetEndPoints().Select(e => e.ToString())), options.Value.KeyPrefix);
                if (services.GetService<ColdTier>() is { } cold)
                {
                    StorageLog.ColdTier(logger, cold.Store.Kind, cold.Store.Location);
                }
                else
                {
                    StorageLog.NoColdTier(logger, "Storage:Segments:Store is none");
                }
            }
            else
            {
                StorageLog.InMemoryHotTier(logger,
                    options.Value.HotTier == "memory" ? "Storage:HotTier is 'memory'" : "no ConnectionStrings:redis is set");
                StorageLog.NoColdTier(logger, "the hot tier is in process memory, so there is no manifest to keep segments in");
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
