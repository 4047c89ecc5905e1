using Broker.Storage;
using Broker.Storage.Apis;
using Broker.Storage.Groups;
using Broker.Storage.HotTier;
using Broker.Storage.Log;
using Broker.Storage.Retention;
using Broker.Storage.Telemetry;
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
    /// ConnectionStrings:redis is set (or Storage:HotTier is "redis"), otherwise in process memory.
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
        builder.Services.AddSingleton<TopicRegistry>();
        builder.Services.AddSingleton<PartitionLog>();

        var useRedis = options.HotTier switch
        {
            "redis" => true,
            "memory" => false,
            _ => builder.HasRedisConnectionString(RedisConnectionName),
        };
        if (useRedis)
        {
            builder.AddBrokerRedis(RedisConnectionName);
            builder.Services.AddSingleton<IHotTier, RedisHotTier>();
            builder.Services.AddSingleton<ITopicStore, RedisTopicStore>();
            builder.Services.AddSingleton<IGroupOffsetStore, RedisGroupOffsetStore>();
            builder.Services.AddHostedService<RedisAppendSubscriber>();
        }
        else
        {
            builder.Services.AddSingleton<IHotTier, InMemoryHotTier>();
            builder.Services.AddSingleton<ITopicStore, InMemoryTopicStore>();
            builder.Services.AddSingleton<IGroupOffsetStore, InMemoryGroupOffsetStore>();
        }
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

    public static WebApplication MapStorageApi(this WebApplication app)
    {
        app.MapTopicsApi();
        app.MapGrpcService<LogGrpcService>();
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
            }
            else
            {
                StorageLog.InMemoryHotTier(logger,
                    options.Value.HotTier == "memory" ? "Storage:HotTier is 'memory'" : "no ConnectionStrings:redis is set");
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
