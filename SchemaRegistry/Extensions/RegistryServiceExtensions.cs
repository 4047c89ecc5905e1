using Broker.ServiceDefaults.Security;
using Microsoft.Extensions.Options;
using SchemaRegistry;
using SchemaRegistry.Apis;
using SchemaRegistry.Registry;
using SchemaRegistry.Storage;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class RegistryServiceExtensions
{
    /// <summary>The Redis connection's name: ConnectionStrings:redis.</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>The registry: schemas in Redis when ConnectionStrings:redis is set, else in a local file (one instance).</summary>
    public static IHostApplicationBuilder AddRegistryServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchemaRegistryOptions>()
            .BindConfiguration(SchemaRegistryOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => CompatibilityLevels.Normalize(o.DefaultCompatibility) is not null,
                "SchemaRegistry:DefaultCompatibility must be one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.")
            .ValidateOnStart();
        if (builder.HasRedisConnectionString(RedisConnectionName))
        {
            builder.AddBrokerRedis(RedisConnectionName);
            builder.Services.AddSingleton<ISchemaStore, RedisSchemaStore>();
        }
        else
        {
            builder.Services.AddSingleton<ISchemaStore, FileSchemaStore>();
        }
        builder.Services.AddHostedService<StoreAnnouncement>();
        builder.Services.AddSingleton<SchemaRegistryService>();
        builder.Services.AddSingleton<IAccessRefusals, ConfluentRefusals>();
        var storage = builder.Configuration.GetSection(SchemaRegistryOptions.SectionName).Get<SchemaRegistryOptions>()?.StorageAddress ?? new SchemaRegistryOptions().StorageAddress;
        builder.AddStorageAcls(storage);
        return builder;
    }

    public static WebApplication MapRegistry(this WebApplication app)
    {
        app.UseMiddleware<RegistryErrors>();
        app.MapDefaultEndpoints(problemDetails: false);
        app.MapRegistryApi();
        return app;
    }

    /// <summary>Says at start-up where schemas are kept, loudly when it is a local file.</summary>
    private sealed class StoreAnnouncement(ISchemaStore store, IServiceProvider services, IOptions<SchemaRegistryOptions> options, ILogger<StoreAnnouncement> logger)
        : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (store is RedisSchemaStore)
            {
                var redis = services.GetRequiredService<IConnectionMultiplexer>();
                RegistryLog.RedisStore(logger, string.Join(",", redis.GetEndPoints().Select(e => e.ToString())), options.Value.KeyPrefix);
            }
            else
            {
                RegistryLog.FileStore(logger, Path.GetFullPath(Path.Combine(options.Value.DataDirectory, "registry.json")));
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
