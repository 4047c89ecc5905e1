extern alias delivery;
extern alias ingest;
extern alias storage;

using System.Globalization;
using Broker.Contracts.Storage;
using Broker.Testing;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Dapr.Tests.Hosting;

/// <summary>
/// The broker as Dapr sees it: the real Storage (on the real Redis, in-process), and the real Ingest and Delivery
/// on real loopback ports (Kestrel, h2c), so that anything outside the test process (a Dapr app, the pluggable
/// component, a DaprClient) reaches them as it would in production.
/// </summary>
public sealed class DaprBroker : IAsyncDisposable
{
    private readonly WebApplicationFactory<storage::Program> _storage;
    private readonly WebApplicationFactory<ingest::Program> _ingest;
    private readonly WebApplicationFactory<delivery::Program> _delivery;
    private readonly GrpcChannel _storageChannel;

    private DaprBroker(string redis, string prefix, IReadOnlyDictionary<string, string>? deliverySettings)
    {
        prefix = prefix.TrimEnd(':');
        _storage = new WebApplicationFactory<storage::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:redis", redis);
            web.UseSetting("Storage:KeyPrefix", prefix);
            web.UseSetting("Storage:HotTier", "redis");
            web.UseSetting("Storage:Segments:Store", "none");
        });
        var storageHandler = _storage.Server.CreateHandler();
        _storageChannel = GrpcChannel.ForAddress(_storage.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _storage.Server.CreateHandler() });
        Storage = new LogService.LogServiceClient(_storageChannel);
        StorageHttp = _storage.CreateClient();

        IngestGrpc = Loopback();
        _ingest = OnKestrel(new WebApplicationFactory<ingest::Program>(), IngestGrpc, Loopback(), web =>
        {
            web.UseSetting("Ingest:StorageAddress", _storage.Server.BaseAddress.ToString());
            web.ConfigureTestServices(services =>
                services.AddGrpcClient<LogService.LogServiceClient>().ConfigurePrimaryHttpMessageHandler(() => storageHandler));
        });
        DeliveryGrpc = Loopback();
        DeliveryHttp = Loopback();
        _delivery = OnKestrel(new WebApplicationFactory<delivery::Program>(), DeliveryGrpc, DeliveryHttp, web =>
        {
            web.UseSetting("ConnectionStrings:redis", redis);
            web.UseSetting("Delivery:KeyPrefix", prefix);
            web.UseSetting("Delivery:StorageAddress", _storage.Server.BaseAddress.ToString());
            web.UseSetting("Delivery:HeartbeatIntervalMs", "100");
            web.UseSetting("Delivery:SessionTimeoutMs", "1000");
            web.UseSetting("Delivery:LeaseMs", "1000");
            web.UseSetting("Delivery:RetryBaseDelayMs", "100");
            web.UseSetting("Delivery:RetryMaxDelayMs", "1000");
            foreach (var (key, value) in deliverySettings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
            web.ConfigureTestServices(services =>
                services.AddGrpcClient<LogService.LogServiceClient>().ConfigurePrimaryHttpMessageHandler(() => storageHandler));
        });
        _ingest.StartServer();
        _delivery.StartServer();
    }

    /// <summary>Ingest's gRPC endpoint: where DAPR_GRPC_ENDPOINT points for sidecarless publishing.</summary>
    public Uri IngestGrpc { get; }

    public Uri DeliveryGrpc { get; }

    /// <summary>Delivery's REST endpoint (apps, groups, replays).</summary>
    public Uri DeliveryHttp { get; }

    public LogService.LogServiceClient Storage { get; }

    public HttpClient StorageHttp { get; }

    public IServiceProvider DeliveryServices => _delivery.Services;

    public static DaprBroker Start(string redis, string prefix, IReadOnlyDictionary<string, string>? deliverySettings = null) => new(redis, prefix, deliverySettings);

    /// <summary>Every record of the topic's partitions, read from Storage.</summary>
    public async Task<List<Contracts.Batches.Record>> ReadAllAsync(string topic)
    {
        var described = await Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic });
        var records = new List<Contracts.Batches.Record>();
        foreach (var partition in described.Partitions)
        {
            records.AddRange(await Storage.ReadAllAsync(topic, partition.Partition, partition.StartOffset));
        }
        return records;
    }

    private static Uri Loopback() => new($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The service on Kestrel: its gRPC endpoint (h2c) and its REST endpoint (HTTP/1.1) on the given loopback ports.</summary>
    private static WebApplicationFactory<T> OnKestrel<T>(WebApplicationFactory<T> factory, Uri grpc, Uri http, Action<Microsoft.AspNetCore.Hosting.IWebHostBuilder> configure)
        where T : class
    {
        var configured = factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("Kestrel:Endpoints:Grpc:Url", grpc.ToString());
            web.UseSetting("Kestrel:Endpoints:Grpc:Protocols", "Http2");
            web.UseSetting("Kestrel:Endpoints:Http:Url", http.ToString());
            web.UseSetting("Kestrel:Endpoints:Http:Protocols", "Http1");
            configure(web);
        });
        configured.UseKestrel();
        return configured;
    }

    public async ValueTask DisposeAsync()
    {
        await _delivery.DisposeAsync();
        await _ingest.DisposeAsync();
        _storageChannel.Dispose();
        StorageHttp.Dispose();
        await _storage.DisposeAsync();
    }
}
