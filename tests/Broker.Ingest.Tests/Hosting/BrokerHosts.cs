extern alias registry;
extern alias storage;

using System.Net.Http.Json;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Ingest.Tests.Hosting;

/// <summary>
/// The real Storage (on a real Redis) and the real Ingest, both in-process; Ingest reaches Storage through
/// its own gRPC client, whose transport is pointed at the in-process Storage.
/// </summary>
public sealed class BrokerHosts : IAsyncDisposable
{
    private readonly WebApplicationFactory<storage::Program> _storage;
    private readonly WebApplicationFactory<registry::Program> _registry;
    private readonly WebApplicationFactory<Program> _ingest;
    private readonly GrpcChannel _storageChannel;
    private readonly GrpcChannel _ingestChannel;

    private BrokerHosts(string redis, string prefix, IReadOnlyDictionary<string, string>? ingestSettings, TimeSpan appendDelay,
        IReadOnlyDictionary<string, string>? storageSettings)
    {
        _storage = new WebApplicationFactory<storage::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:redis", redis);
            web.UseSetting("Storage:KeyPrefix", prefix.TrimEnd(':'));
            web.UseSetting("Storage:HotTier", "redis");
            web.UseSetting("Storage:Segments:Directory", Path.Combine(Path.GetTempPath(), "broker-ingest-tests-segments"));
            foreach (var (key, value) in storageSettings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
            if (appendDelay > TimeSpan.Zero)
            {
                web.ConfigureTestServices(services =>
                {
                    services.AddSingleton(new SlowAppends(appendDelay));
                    services.AddGrpc(grpc => grpc.Interceptors.Add<SlowAppends>());
                });
            }
        });
        StorageHttp = _storage.CreateClient();

        // The schema registry on the same Redis (its own key prefix), for topics with schema validation.
        _registry = new WebApplicationFactory<registry::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:redis", redis);
            web.UseSetting("SchemaRegistry:KeyPrefix", prefix.TrimEnd(':') + ".registry");
        });
        RegistryHttp = _registry.CreateClient();
        var registryHandler = _registry.Server.CreateHandler();
        var storageHandler = _storage.Server.CreateHandler();
        _storageChannel = GrpcChannel.ForAddress(_storage.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _storage.Server.CreateHandler(), MaxReceiveMessageSize = 64 << 20 });
        Storage = new LogService.LogServiceClient(_storageChannel);

        _ingest = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Ingest:StorageAddress", _storage.Server.BaseAddress.ToString());
            foreach (var (key, value) in ingestSettings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
            web.UseSetting("Ingest:SchemaRegistryAddress", _registry.Server.BaseAddress.ToString());
            web.ConfigureTestServices(services =>
            {
                services.AddGrpcClient<LogService.LogServiceClient>().ConfigurePrimaryHttpMessageHandler(() => storageHandler);
                services.AddHttpClient(Broker.Ingest.Schemas.SchemaRegistryClient.ClientName).ConfigurePrimaryHttpMessageHandler(() => registryHandler);
            });
        });
        IngestHttp = _ingest.CreateClient();
        _ingestChannel = GrpcChannel.ForAddress(_ingest.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _ingest.Server.CreateHandler(), MaxReceiveMessageSize = 64 << 20 });
        Ingest = new ProduceService.ProduceServiceClient(_ingestChannel);
    }

    public HttpClient StorageHttp { get; }
    public HttpClient RegistryHttp { get; }
    public HttpClient IngestHttp { get; }
    public LogService.LogServiceClient Storage { get; }
    public ProduceService.ProduceServiceClient Ingest { get; }
    public IServiceProvider IngestServices => _ingest.Services;

    /// <summary>Ingest's gRPC transport, for clients built elsewhere (a DaprClient, say).</summary>
    public HttpMessageHandler IngestHandler => _ingest.Server.CreateHandler();

    public Uri IngestAddress => _ingest.Server.BaseAddress;

    /// <summary>Starts both; <paramref name="appendDelay"/> makes Storage that much slower to answer each append.</summary>
    public static BrokerHosts Start(string redis, string prefix, IReadOnlyDictionary<string, string>? ingestSettings = null, TimeSpan appendDelay = default,
        IReadOnlyDictionary<string, string>? storageSettings = null) =>
        new(redis, prefix, ingestSettings, appendDelay, storageSettings);

    public async Task CreateTopicAsync(string topic, int partitions, bool schemaValidation = false)
    {
        using var response = await StorageHttp.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions, schemaValidation });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Registers an Avro schema under <paramref name="subject"/>; answers its id.</summary>
    public async Task<int> RegisterSchemaAsync(string subject, string schema)
    {
        using var response = await RegistryHttp.PostAsJsonAsync($"/subjects/{subject}/versions", new { schema });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetInt32();
    }

    public async ValueTask DisposeAsync()
    {
        _ingestChannel.Dispose();
        _storageChannel.Dispose();
        IngestHttp.Dispose();
        StorageHttp.Dispose();
        RegistryHttp.Dispose();
        await _ingest.DisposeAsync();
        await _registry.DisposeAsync();
        await _storage.DisposeAsync();
    }

    /// <summary>Makes Storage slow to take appends (calls, and each batch of an append stream), as an overloaded Storage would be.</summary>
    private sealed class SlowAppends(TimeSpan delay) : Interceptor
    {
        public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
            TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            if (context.Method.EndsWith("/Append", StringComparison.Ordinal))
            {
                await Task.Delay(delay, context.CancellationToken);
            }
            return await continuation(request, context);
        }

        public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
            IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
            DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
            context.Method.EndsWith("/AppendStream", StringComparison.Ordinal)
                ? continuation(new SlowReader<TRequest>(requestStream, delay), responseStream, context)
                : continuation(requestStream, responseStream, context);

        private sealed class SlowReader<T>(IAsyncStreamReader<T> inner, TimeSpan delay) : IAsyncStreamReader<T>
        {
            public T Current => inner.Current;

            public async Task<bool> MoveNext(CancellationToken cancellationToken)
            {
                var more = await inner.MoveNext(cancellationToken);
                if (more)
                {
                    await Task.Delay(delay, cancellationToken);
                }
                return more;
            }
        }
    }
}
