extern alias ingest;
extern alias storage;

using System.Net.Http.Json;
using Broker.Client;
using Broker.Client.Producing;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using Broker.Testing;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Delivery.Tests.Hosting;

/// <summary>
/// The real Storage (on the real Redis), the real Ingest and any number of real Delivery instances, all
/// in-process. Ingest and Delivery reach Storage through their own gRPC clients, whose transport is the
/// in-process Storage; the Delivery instances share Redis for membership and leases, as separate
/// processes would.
/// </summary>
public sealed class BrokerCluster : IAsyncDisposable
{
    /// <summary>Fast timings for tests: 100 ms heartbeats, 1 s sessions and leases, 50 ms first retry.</summary>
    public static readonly IReadOnlyDictionary<string, string> FastTimings = new Dictionary<string, string>
    {
        ["Delivery:HeartbeatIntervalMs"] = "100",
        ["Delivery:SessionTimeoutMs"] = "1000",
        ["Delivery:LeaseMs"] = "1000",
        ["Delivery:RevokeDrainMs"] = "2000",
        ["Delivery:RetryBaseDelayMs"] = "50",
        ["Delivery:RetryMaxDelayMs"] = "2000",
    };

    private readonly string _redis;
    private readonly string _prefix;
    private readonly IReadOnlyDictionary<string, string> _deliverySettings;
    private readonly WebApplicationFactory<storage::Program> _storage;
    private readonly WebApplicationFactory<ingest::Program> _ingest;
    private readonly GrpcChannel _storageChannel;
    private readonly GrpcChannel _ingestChannel;
    private readonly HttpMessageHandler _storageHandler;
    private readonly HostRouter _clientHandler;
    private readonly List<DeliveryNode> _deliveries = [];

    private BrokerCluster(string redis, string prefix, IReadOnlyDictionary<string, string>? deliverySettings, IReadOnlyDictionary<string, string>? storageSettings)
    {
        _redis = redis;
        _prefix = prefix.TrimEnd(':');
        var settings = new Dictionary<string, string>(FastTimings);
        foreach (var (key, value) in deliverySettings ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }
        _deliverySettings = settings;

        _storage = new WebApplicationFactory<storage::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:redis", redis);
            web.UseSetting("Storage:KeyPrefix", _prefix);
            web.UseSetting("Storage:HotTier", "redis");
            web.UseSetting("Storage:Segments:Directory", Path.Combine(Path.GetTempPath(), "broker-delivery-tests-segments"));
            foreach (var (key, value) in storageSettings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
            // A failing call then says why in its status, which is what a failing test needs to show.
            web.ConfigureTestServices(services => services.AddGrpc(grpc => grpc.EnableDetailedErrors = true));
        });
        StorageHttp = _storage.CreateClient();
        _storageHandler = _storage.Server.CreateHandler();
        _storageChannel = GrpcChannel.ForAddress(_storage.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _storage.Server.CreateHandler(), MaxReceiveMessageSize = 64 << 20 });
        Storage = new LogService.LogServiceClient(_storageChannel);

        _ingest = new WebApplicationFactory<ingest::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Ingest:StorageAddress", _storage.Server.BaseAddress.ToString());
            web.ConfigureTestServices(services =>
                services.AddGrpcClient<LogService.LogServiceClient>().ConfigurePrimaryHttpMessageHandler(() => _storageHandler));
        });
        _ingestChannel = GrpcChannel.ForAddress(_ingest.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _ingest.Server.CreateHandler(), MaxReceiveMessageSize = 64 << 20 });
        Ingest = new ProduceService.ProduceServiceClient(_ingestChannel);
        _clientHandler = new HostRouter(new Dictionary<string, HttpMessageHandler>
        {
            ["storage.test"] = _storage.Server.CreateHandler(),
            ["ingest.test"] = _ingest.Server.CreateHandler(),
        });
        ClientOptions = new BrokerClientOptions { Storage = new Uri("http://storage.test/"), IngestGrpc = new Uri("http://ingest.test/"), HttpHandler = _clientHandler };
    }

    /// <summary>Broker.Client's way to the in-process Storage (REST) and Ingest (gRPC).</summary>
    public BrokerClientOptions ClientOptions { get; }

    public HttpClient StorageHttp { get; }
    public LogService.LogServiceClient Storage { get; }
    public ProduceService.ProduceServiceClient Ingest { get; }

    public static BrokerCluster Start(string redis, string prefix, IReadOnlyDictionary<string, string>? deliverySettings = null,
        IReadOnlyDictionary<string, string>? storageSettings = null) =>
        new(redis, prefix, deliverySettings, storageSettings);

    public IServiceProvider StorageServices => _storage.Services;

    /// <summary>Every record of a partition from <paramref name="from"/> to its end, read from Storage (both tiers).</summary>
    public Task<List<Contracts.Batches.Record>> ReadAllAsync(string topic, int partition, long from = 0) => Storage.ReadAllAsync(topic, partition, from);

    /// <summary>Starts one more Delivery instance on the shared Redis.</summary>
    public DeliveryNode StartDelivery(IReadOnlyDictionary<string, string>? settings = null)
    {
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:redis", _redis);
            web.UseSetting("Delivery:KeyPrefix", _prefix);
            web.UseSetting("Delivery:StorageAddress", _storage.Server.BaseAddress.ToString());
            foreach (var (key, value) in _deliverySettings)
            {
                web.UseSetting(key, value);
            }
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
            web.ConfigureTestServices(services =>
                services.AddGrpcClient<LogService.LogServiceClient>().ConfigurePrimaryHttpMessageHandler(() => _storageHandler));
        });
        var node = new DeliveryNode(factory);
        _deliveries.Add(node);
        return node;
    }

    public async Task StopDeliveryAsync(DeliveryNode node)
    {
        _deliveries.Remove(node);
        await node.DisposeAsync();
    }

    public async Task CreateTopicAsync(string topic, int partitions, object? settings = null)
    {
        var body = new Dictionary<string, object?> { ["partitions"] = partitions };
        if (settings is not null)
        {
            foreach (var property in settings.GetType().GetProperties())
            {
                body[char.ToLowerInvariant(property.Name[0]) + property.Name[1..]] = property.GetValue(settings);
            }
        }
        using var response = await StorageHttp.PutAsJsonAsync($"/v1/topics/{topic}", body);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Produces with Broker.Client's producer (keys pick partitions as Ingest's do); answers each record's (partition, offset) in order.</summary>
    public async Task<List<(int Partition, long Offset)>> ProduceAsync(
        string topic, IReadOnlyList<(string? Key, string Value)> records,
        IReadOnlyList<(string Name, string Value)>? headers = null, DateTimeOffset? timestamp = null, CancellationToken cancellationToken = default)
    {
        await using var producer = new BrokerProducer<string, string>(ClientOptions);
        var sent = new Task<DeliveryResult>[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            MessageHeaders? recordHeaders = null;
            if (headers is not null)
            {
                recordHeaders = [];
                foreach (var (name, value) in headers)
                {
                    recordHeaders.Add(name, value);
                }
            }
            sent[i] = producer.ProduceAsync(topic, new Message<string, string> { Key = records[i].Key, Value = records[i].Value, Headers = recordHeaders, Timestamp = timestamp }, cancellationToken);
        }
        return [.. (await Task.WhenAll(sent)).Select(r => (r.Partition, r.Offset))];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _deliveries.ToList())
        {
            await node.DisposeAsync();
        }
        _ingestChannel.Dispose();
        _storageChannel.Dispose();
        _clientHandler.Dispose();
        StorageHttp.Dispose();
        await _ingest.DisposeAsync();
        await _storage.DisposeAsync();
    }
}

/// <summary>One Delivery instance: its gRPC client and its REST client.</summary>
public sealed class DeliveryNode : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;
    private readonly GrpcChannel _channel;
    private bool _disposed;

    internal DeliveryNode(WebApplicationFactory<Program> factory)
    {
        _factory = factory;
        Http = factory.CreateClient();
        _channel = GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler(), MaxReceiveMessageSize = 64 << 20 });
        Client = new DeliveryService.DeliveryServiceClient(_channel);
    }

    public HttpClient Http { get; }
    public DeliveryService.DeliveryServiceClient Client { get; }
    public IServiceProvider Services => _factory.Services;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Http.Dispose();
        _channel.Dispose();
        await _factory.DisposeAsync();
    }
}
