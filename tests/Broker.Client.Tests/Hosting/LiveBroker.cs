extern alias delivery;
extern alias ingest;
extern alias registry;
extern alias storage;

using System.Globalization;
using Broker.Client.Admin;
using Broker.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Client.Tests.Hosting;

/// <summary>
/// Storage (on the real Redis), Ingest and Delivery, each on its own loopback ports with Kestrel (REST on HTTP/1.1,
/// gRPC on h2c), reached over sockets as a client reaches a deployment. Ingest can be restarted on the same ports
/// (a fault in the middle of a produce stream).
/// </summary>
public sealed class LiveBroker : IAsyncDisposable
{
    private readonly string _redis;
    private readonly string _prefix;
    private readonly WebApplicationFactory<storage::Program> _storage;
    private WebApplicationFactory<ingest::Program> _ingest;
    private readonly WebApplicationFactory<delivery::Program> _delivery;
    private readonly WebApplicationFactory<registry::Program> _registry;

    private LiveBroker(string redis, string prefix)
    {
        (_redis, _prefix) = (redis, prefix.TrimEnd(':'));
        (StorageHttp, StorageGrpc) = (Loopback(), Loopback());
        _storage = Start<storage::Program>(StorageHttp, StorageGrpc, new()
        {
            ["ConnectionStrings:redis"] = redis,
            ["Storage:KeyPrefix"] = _prefix,
            ["Storage:HotTier"] = "redis",
            ["Storage:Segments:Store"] = "none",
        });
        (Registry, var registryGrpc) = (Loopback(), Loopback());
        _registry = Start<registry::Program>(Registry, registryGrpc, new()
        {
            ["ConnectionStrings:redis"] = redis,
            ["SchemaRegistry:KeyPrefix"] = _prefix + ".registry",
        });
        (IngestHttp, IngestGrpc) = (Loopback(), Loopback());
        _ingest = StartIngest();
        (DeliveryHttp, DeliveryGrpc) = (Loopback(), Loopback());
        _delivery = Start<delivery::Program>(DeliveryHttp, DeliveryGrpc, new()
        {
            ["ConnectionStrings:redis"] = redis,
            ["Delivery:KeyPrefix"] = _prefix,
            ["Delivery:StorageAddress"] = StorageGrpc.ToString(),
            ["Delivery:HeartbeatIntervalMs"] = "100",
            ["Delivery:SessionTimeoutMs"] = "1000",
            ["Delivery:LeaseMs"] = "1000",
            ["Delivery:RetryBaseDelayMs"] = "50",
            ["Delivery:RetryMaxDelayMs"] = "500",
        });
    }

    public Uri StorageHttp { get; }

    public Uri StorageGrpc { get; }

    public Uri IngestHttp { get; }

    public Uri IngestGrpc { get; }

    public Uri DeliveryHttp { get; }

    public Uri DeliveryGrpc { get; }

    public Uri Registry { get; }

    /// <summary>What a client is given: the connection string Aspire's WithReference(broker) writes.</summary>
    public string ConnectionString =>
        $"Storage={StorageHttp};StorageGrpc={StorageGrpc};Ingest={IngestHttp};IngestGrpc={IngestGrpc};Delivery={DeliveryHttp};DeliveryGrpc={DeliveryGrpc};SchemaRegistry={Registry}";

    public BrokerClientOptions ClientOptions => BrokerClientOptions.FromConnectionString(ConnectionString);

    /// <summary>Creates a topic through the client's own admin client.</summary>
    public async Task CreateTopicAsync(string topic, int partitions, int? maxDeliveryAttempts = null)
    {
        using var admin = new BrokerAdminClient(ClientOptions);
        await admin.CreateTopicAsync(topic, new TopicSettings { Partitions = partitions, MaxDeliveryAttempts = maxDeliveryAttempts });
    }

    public static LiveBroker Start(RedisFixture redis) => new(redis.ConnectionString, "client." + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Stops Ingest (its streams break mid-request) and starts it again on the same ports.</summary>
    public async Task RestartIngestAsync(TimeSpan down)
    {
        await _ingest.DisposeAsync();
        await Task.Delay(down);
        _ingest = StartIngest();
    }

    private WebApplicationFactory<ingest::Program> StartIngest() => Start<ingest::Program>(IngestHttp, IngestGrpc, new()
    {
        ["Ingest:StorageAddress"] = StorageGrpc.ToString(),
        // Stopped, it drops its connections at once, requests in flight and all, as a crashed process would.
        ["shutdownTimeoutSeconds"] = "0",
    });

    private static Uri Loopback() => new($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");

    private static WebApplicationFactory<T> Start<T>(Uri http, Uri grpc, Dictionary<string, string> settings) where T : class
    {
        var factory = new WebApplicationFactory<T>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Kestrel:Endpoints:Http:Url", http.ToString());
            web.UseSetting("Kestrel:Endpoints:Http:Protocols", "Http1");
            web.UseSetting("Kestrel:Endpoints:Grpc:Url", grpc.ToString());
            web.UseSetting("Kestrel:Endpoints:Grpc:Protocols", "Http2");
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }
        });
        factory.UseKestrel();
        factory.StartServer();
        return factory;
    }

    public async ValueTask DisposeAsync()
    {
        await _delivery.DisposeAsync();
        await _ingest.DisposeAsync();
        await _registry.DisposeAsync();
        await _storage.DisposeAsync();
    }
}
