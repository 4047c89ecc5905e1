using Broker.Contracts.Storage;
using Broker.Ingest;
using Broker.Ingest.Apis;
using Broker.Ingest.Dapr;
using Broker.Ingest.Producing;
using Broker.Ingest.Schemas;
using Broker.Ingest.Telemetry;
using Broker.Ingest.Topics;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

public static class IngestServiceExtensions
{
    /// <summary>The produce path: limits, topic metadata, batching, the Storage client (service name "storage").</summary>
    public static IHostApplicationBuilder AddIngestServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestOptions>()
            .BindConfiguration(IngestOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => Uri.TryCreate(o.StorageAddress, UriKind.Absolute, out _), "Ingest:StorageAddress must be an absolute URI.")
            .Validate(o => Uri.TryCreate(o.SchemaRegistryAddress, UriKind.Absolute, out _), "Ingest:SchemaRegistryAddress must be an absolute URI.")
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();

        builder.Services.AddOptions<DaprOptions>().BindConfiguration(DaprOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // StorageAppender's own Polly pipeline retries appends (safe: they are idempotent); the standard HTTP
        // resilience handler from the service defaults would add a second, blind retry, a rate limiter and a
        // circuit breaker on every append, so this client goes without it.
#pragma warning disable EXTEXP0001 // marked experimental, but it is the documented way to opt one client out of the defaults
        builder.Services.AddGrpcClient<LogService.LogServiceClient>(o => o.Address = new Uri(options.StorageAddress))
            .ConfigureChannel(channel => channel.MaxSendMessageSize = options.MaxBatchBytes * 2)
            .RemoveAllResilienceHandlers()
            .AddServiceCredential();
#pragma warning restore EXTEXP0001
        builder.Services.AddHttpClient(SchemaRegistryClient.ClientName, http => http.BaseAddress = new Uri(options.SchemaRegistryAddress))
            .AddServiceCredential();
        builder.AddStorageAcls(options.StorageAddress);
        builder.Services.AddSingleton<ProduceGate>();
        builder.Services.AddSingleton<SchemaRegistryClient>();
        builder.Services.AddSingleton<SchemaEnforcer>();
        builder.Services.AddSingleton<TopicMetadata>();
        builder.Services.AddSingleton<StorageAppender>();
        builder.Services.AddSingleton<ProduceBudget>();
        builder.Services.AddSingleton<IngestMetrics>();
        builder.Services.AddSingleton<Producer>();
        builder.Services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", tags: ["ready"]);

        builder.Services.AddGrpc(grpc => grpc.MaxReceiveMessageSize = options.MaxRequestBytes + (64 * 1024));
        return builder;
    }

    public static WebApplication MapIngestApi(this WebApplication app)
    {
        app.MapProduceApi();
        app.MapGrpcService<ProduceGrpcService>();
        app.MapGrpcService<DaprPublishService>();
        return app;
    }
}
