using Broker.Contracts.Storage;
using Broker.Delivery;
using Broker.Delivery.Apis;
using Broker.Delivery.Consuming;
using Broker.Delivery.Dapr;
using Broker.Delivery.Groups;
using Broker.Delivery.Outbound;
using Broker.Delivery.Replays;
using Broker.Delivery.Retries;
using Broker.Delivery.StorageAccess;
using Broker.Delivery.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class DeliveryServiceExtensions
{
    /// <summary>The Redis connection's name: ConnectionStrings:redis.</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>
    /// Consumer groups: membership and leases in Redis when ConnectionStrings:redis is set (in process memory
    /// otherwise, for a single instance), Storage through service discovery ("storage"), redelivery and
    /// dead-letter topics.
    /// </summary>
    public static IHostApplicationBuilder AddDeliveryServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeliveryOptions>()
            .BindConfiguration(DeliveryOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => Uri.TryCreate(o.StorageAddress, UriKind.Absolute, out _), "Delivery:StorageAddress must be an absolute URI.")
            .Validate(o => o.LeaseMs >= 2 * o.HeartbeatIntervalMs, "Delivery:LeaseMs must be at least twice Delivery:HeartbeatIntervalMs, or leases lapse between renewals.")
            .Validate(o => o.SessionTimeoutMs >= 2 * o.HeartbeatIntervalMs, "Delivery:SessionTimeoutMs must be at least twice Delivery:HeartbeatIntervalMs.")
            .Validate(o => o.HttpSessionTimeoutMs > o.MaxPollWaitMs, "Delivery:HttpSessionTimeoutMs must be longer than Delivery:MaxPollWaitMs.")
            .Validate(o => o.DefaultWindow <= o.MaxWindow, "Delivery:DefaultWindow must not exceed Delivery:MaxWindow.")
            .Validate(o => o.DefaultAckTimeoutMs <= o.MaxAckTimeoutMs, "Delivery:DefaultAckTimeoutMs must not exceed Delivery:MaxAckTimeoutMs.")
            .Validate(o => o.RetryBaseDelayMs <= o.RetryMaxDelayMs, "Delivery:RetryBaseDelayMs must not exceed Delivery:RetryMaxDelayMs.")
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(DeliveryOptions.SectionName).Get<DeliveryOptions>() ?? new DeliveryOptions();

        builder.Services.TryAddSingleton(TimeProvider.System);
        // Long polls and streams must not meet the standard handler's request timeouts; LogClient retries itself.
#pragma warning disable EXTEXP0001 // marked experimental, but it is the documented way to opt one client out of the defaults
        builder.Services.AddGrpcClient<LogService.LogServiceClient>(o => o.Address = new Uri(options.StorageAddress))
            .ConfigureChannel(channel => channel.MaxReceiveMessageSize = options.FetchMaxBytes + (16 * 1024 * 1024))
            .RemoveAllResilienceHandlers()
            .AddServiceCredential();
#pragma warning restore EXTEXP0001
        builder.AddStorageAcls(options.StorageAddress);

        if (builder.HasRedisConnectionString(RedisConnectionName))
        {
            builder.AddBrokerRedis(RedisConnectionName);
            builder.Services.AddSingleton<IGroupCoordinator, RedisGroupCoordinator>();
            builder.Services.AddSingleton<IReplayStore, RedisReplayStore>();
            builder.Services.AddSingleton<IDaprAppStore, RedisDaprAppStore>();
        }
        else
        {
            builder.Services.AddSingleton<IGroupCoordinator, InMemoryGroupCoordinator>();
            builder.Services.AddSingleton<IReplayStore, InMemoryReplayStore>();
            builder.Services.AddSingleton<IDaprAppStore, InMemoryDaprAppStore>();
            builder.Services.AddHostedService<InMemoryCoordinatorAnnouncement>();
        }
        AddOutbound(builder);
        AddReplays(builder);
        builder.Services.AddSingleton<LogClient>();
        builder.Services.AddSingleton<DeliveryMetrics>();
        builder.Services.AddSingleton<RedeliveryPolicy>();
        builder.Services.AddSingleton<DeadLetterWriter>();
        builder.Services.AddSingleton<ConsumerServices>();
        builder.Services.AddSingleton<GroupSessions>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GroupSessions>());
        builder.Services.AddSingleton<HttpConsumers>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HttpConsumers>());
        AddDaprApps(builder);
        builder.Services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", tags: ["ready"]);
        builder.Services.AddGrpc();
        return builder;
    }

    /// <summary>
    /// Dapr: topics on demand, and delivery to apps without a sidecar. Registered after the group sessions, so it
    /// stops first and its consumers leave while the sessions still run.
    /// </summary>
    private static void AddDaprApps(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DaprDeliveryOptions>().BindConfiguration(DaprDeliveryOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.Apps.All(a => DaprAppDelivery.CheckAppId(a.Key) is null),
                "Delivery:Dapr:Apps: an app id is a legal name (ASCII letters, digits, '.', '_' and '-').")
            .Validate(o => o.Apps.Values.All(a => Uri.TryCreate(a.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"),
                "Delivery:Dapr:Apps:{appId}:Url must be the app's absolute http:// or https:// address.")
            .Validate(o => o.Apps.Values.All(a => DaprAppDelivery.ParseProtocol(a.Protocol) is not null),
                "Delivery:Dapr:Apps:{appId}:Protocol is http or grpc.")
            .ValidateOnStart();
        // ... and only to hosts Delivery:Outbound:AllowedHosts allows, without credentials in the URL.
        builder.Services.AddSingleton<IValidateOptions<DaprDeliveryOptions>, DaprAppsValidation>();
        builder.Services.AddSingleton<DaprTopics>();
        builder.Services.AddSingleton<AppDeliveryMetrics>();
        builder.Services.AddSingleton<AppDeliveryServices>();
        builder.Services.AddSingleton<DaprAppDelivery>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DaprAppDelivery>());
        // Retries are the broker's (backoff, then the dead-letter topic): no handler of its own retrying, and no
        // timeout but the per-call one (Delivery:Dapr:AppTimeoutMs).
#pragma warning disable EXTEXP0001 // experimental, but the documented way to opt one client out of the defaults
        builder.Services.AddHttpClient(DaprAppDelivery.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllResilienceHandlers()
            .AddOutboundHandlers();
#pragma warning restore EXTEXP0001
    }

    /// <summary>Replay jobs: the planner behind the API, the runner on every instance, and the HTTP client for URL targets.</summary>
    private static void AddReplays(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ReplayOptions>().BindConfiguration(ReplayOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.ProgressIntervalMs < o.LeaseMs, "Delivery:Replay:ProgressIntervalMs must be shorter than Delivery:Replay:LeaseMs, or leases lapse between renewals.")
            .ValidateOnStart();
        var replay = builder.Configuration.GetSection(ReplayOptions.SectionName).Get<ReplayOptions>() ?? new ReplayOptions();
        builder.Services.AddSingleton<ReplayMetrics>();
        builder.Services.AddSingleton<ReplayPlanner>();
        builder.Services.AddSingleton<ReplayRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ReplayRunner>());
        // The defaults' handler would time out and retry on its own terms: one handler, with the replay's timeout.
#pragma warning disable EXTEXP0001 // experimental, but the documented way to replace one client's defaults
        builder.Services.AddHttpClient(ReplayRunner.HttpClientName)
            .RemoveAllResilienceHandlers()
            .AddOutboundHandlers() // outside the retries: a URL the policy refuses is not tried again
            .AddStandardResilienceHandler(o =>
            {
                o.AttemptTimeout.Timeout = TimeSpan.FromMilliseconds(replay.HttpTimeoutMs);
                o.TotalRequestTimeout.Timeout = TimeSpan.FromMilliseconds(replay.HttpTimeoutMs * 4);
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromMilliseconds(Math.Max(replay.HttpTimeoutMs * 2, 30_000));
            });
#pragma warning restore EXTEXP0001
    }

    /// <summary>
    /// Outbound calls (Dapr apps, replay URL targets): Delivery:Outbound, and the one HTTP stack every outbound client
    /// shares (<see cref="OutboundHandlers"/>).
    /// </summary>
    private static void AddOutbound(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OutboundOptions>().BindConfiguration(OutboundOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<OutboundPolicy>();
        builder.Services.AddSingleton<OutboundHandlers>();
        builder.Services.AddHostedService<OutboundAnnouncement>();
    }

    /// <summary>
    /// The outbound stack under a named HttpClient: the policy's check of each URL, over the guarded primary handler,
    /// which sets its own TLS (trusting Tls:CaCertificate, presenting no client certificate to apps).
    /// </summary>
    private static IHttpClientBuilder AddOutboundHandlers(this IHttpClientBuilder client) => client
        .KeepOwnTls()
        .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundHandlers>().CreatePrimary())
        .AddHttpMessageHandler(sp => sp.GetRequiredService<OutboundHandlers>().CreateGuard());

    public static WebApplication MapDeliveryApi(this WebApplication app)
    {
        var maxRequestBytes = app.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.MaxRequestBytes;
        app.MapGroupsApi().WithRequestBodyLimit(maxRequestBytes);
        app.MapReplaysApi().WithRequestBodyLimit(maxRequestBytes);
        app.MapAppsApi().WithRequestBodyLimit(maxRequestBytes);
        app.MapGrpcService<DeliveryGrpcService>();
        return app;
    }
}
