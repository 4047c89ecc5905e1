using System.Net.Http.Json;
using Broker.Contracts.Storage;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Storage.Tests.Hosting;

/// <summary>
/// The real Storage service hosted in-process (the whole ASP.NET Core pipeline, gRPC included), on the
/// Redis the caller names or on the in-process hot tier when it names none.
/// </summary>
public sealed class StorageHost : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;
    private readonly GrpcChannel _channel;

    private StorageHost(string? redisConnectionString, string keyPrefix, IReadOnlyDictionary<string, string>? settings)
    {
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Storage:HotTier", redisConnectionString is null ? "memory" : "redis");
            web.UseSetting("Storage:KeyPrefix", keyPrefix.TrimEnd(':'));
            web.UseSetting("Storage:WaitPollIntervalMs", "200");
            if (redisConnectionString is not null)
            {
                web.UseSetting("ConnectionStrings:redis", redisConnectionString);
            }
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }
        });
        Http = _factory.CreateClient();
        _channel = GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions
        {
            HttpHandler = _factory.Server.CreateHandler(),
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        Log = new LogService.LogServiceClient(_channel);
    }

    public HttpClient Http { get; }

    public LogService.LogServiceClient Log { get; }

    public IServiceProvider Services => _factory.Services;

    public static StorageHost Start(string? redisConnectionString, string keyPrefix, IReadOnlyDictionary<string, string>? settings = null) =>
        new(redisConnectionString, keyPrefix, settings);

    public Task CreateTopicAsync(string topic, int partitions, string compression = "none") =>
        CreateTopicAsync(topic, new { partitions, compression });

    /// <summary>PUT /v1/topics/{topic} with <paramref name="spec"/> as the JSON body.</summary>
    public async Task CreateTopicAsync(string topic, object spec)
    {
        using var response = await Http.PutAsJsonAsync($"/v1/topics/{topic}", spec);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT /v1/topics/{topic}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        Http.Dispose();
        await _factory.DisposeAsync();
    }
}
