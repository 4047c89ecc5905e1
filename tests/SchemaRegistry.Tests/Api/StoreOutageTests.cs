using System.Globalization;
using System.Text.Json;
using Broker.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Api;

/// <summary>
/// With its Redis gone, the registry answers every request that needs the store with a 500 in Confluent's shape
/// and a fixed message, naming nothing of the store (no endpoint, no client, no exception); the exception goes
/// to the log, under the registry's event ids. Once Redis is back, it answers as before.
/// </summary>
public sealed class StoreOutageTests : IAsyncLifetime
{
    private const string Schema = """{"type":"record","name":"Reading","fields":[{"name":"celsius","type":"double"}]}""";
    private const string Subject = "readings-value";

    // Every request of the API that reads or writes the store.
    private static readonly (HttpMethod Method, string Path, object? Body)[] s_requests =
    [
        (HttpMethod.Get, "/subjects", null),
        (HttpMethod.Get, $"/subjects/{Subject}/versions", null),
        (HttpMethod.Post, $"/subjects/{Subject}/versions", new { schema = Schema }),
        (HttpMethod.Post, $"/subjects/{Subject}", new { schema = Schema }),
        (HttpMethod.Get, $"/subjects/{Subject}/versions/1", null),
        (HttpMethod.Get, $"/subjects/{Subject}/versions/latest/schema", null),
        (HttpMethod.Get, $"/subjects/{Subject}/versions/1/referencedby", null),
        (HttpMethod.Delete, $"/subjects/{Subject}/versions/1", null),
        (HttpMethod.Delete, $"/subjects/{Subject}", null),
        (HttpMethod.Get, "/schemas", null),
        (HttpMethod.Get, "/schemas/ids/1", null),
        (HttpMethod.Get, "/schemas/ids/1/schema", null),
        (HttpMethod.Get, "/schemas/ids/1/versions", null),
        (HttpMethod.Get, "/schemas/ids/1/subjects", null),
        (HttpMethod.Get, "/config", null),
        (HttpMethod.Put, "/config", new { compatibility = "FULL" }),
        (HttpMethod.Delete, "/config", null),
        (HttpMethod.Get, $"/config/{Subject}?defaultToGlobal=true", null),
        (HttpMethod.Put, $"/config/{Subject}", new { compatibility = "NONE" }),
        (HttpMethod.Delete, $"/config/{Subject}", null),
        (HttpMethod.Get, "/mode", null),
        (HttpMethod.Put, "/mode", new { mode = "READONLY" }),
        (HttpMethod.Delete, "/mode", null),
        (HttpMethod.Get, $"/mode/{Subject}?defaultToGlobal=true", null),
        (HttpMethod.Put, $"/mode/{Subject}", new { mode = "READONLY" }),
        (HttpMethod.Delete, $"/mode/{Subject}", null),
        (HttpMethod.Post, $"/compatibility/subjects/{Subject}/versions/latest", new { schema = Schema }),
        (HttpMethod.Post, $"/compatibility/subjects/{Subject}/versions?verbose=true", new { schema = Schema }),
    ];

    private readonly CapturedLogs _logs = new();
    private RedisServerProcess _redis = null!;
    private RegistryHost _registry = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServerProcess.StartAsync(CancellationToken.None);
        // Short timeouts so that the outage is seen in a second; the rest as the fixtures connect.
        _registry = RegistryHost.OnRedis($"{_redis.ConnectionString},connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000", "outage",
            new Dictionary<string, string>(), web => web.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(_logs)));
    }

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Every_request_answers_a_bare_5xx_while_Redis_is_down_and_normally_once_it_is_back()
    {
        var registered = await _registry.RegisterAsync(Subject, Schema);
        Assert.Equal(200, registered.Status);
        var id = registered.Body.GetProperty("id").GetInt32();

        await _redis.ShutdownAsync();
        var answers = await Task.WhenAll(s_requests.Select(async r => (Request: r, Answer: await _registry.SendAsync(r.Method, r.Path, r.Body))));
        foreach (var (request, answer) in answers)
        {
            var what = $"{request.Method} {request.Path} answered {answer.Status}: {answer.Body}";
            Assert.True(answer.Status == 500, what);
            var code = answer.Body.GetProperty("error_code").GetInt32();
            Assert.True(code is 50001 or 50002, what);
            Assert.Equal(["error_code", "message"], answer.Body.EnumerateObject().Select(p => p.Name).Order());
            Assert.Equal(code == 50001 ? "Error in the backend data store" : "Operation timed out", answer.Body.GetProperty("message").GetString());
            AssertNamesNothingOfTheStore(answer.Body.GetRawText(), what);
        }

        // What failed is in the log, with the exception, under the registry's own event ids.
        var failures = _logs.Entries.Where(e => e.Category == "SchemaRegistry.Apis.RegistryErrors" && e.Level == LogLevel.Error).ToList();
        Assert.True(failures.Count >= s_requests.Length, $"{failures.Count} failures logged");
        Assert.All(failures, f => Assert.Contains(f.EventId.Id, new[] { 6, 7 }));
        Assert.All(failures, f => Assert.Contains("StackExchange.Redis", f.Exception?.GetType().FullName, StringComparison.Ordinal));

        // Back: the same port and data directory, so the AOF brings the schema back.
        await _redis.RestartAsync(CancellationToken.None);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (int Status, JsonElement Body) subjects;
        while ((subjects = await _registry.SendAsync(HttpMethod.Get, "/subjects")).Status != 200)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"still {subjects.Status} after Redis came back: {subjects.Body}");
            await Task.Delay(200);
        }
        Assert.Equal($"[\"{Subject}\"]", subjects.Body.GetRawText());
        Assert.Equal(id, (await _registry.SendAsync(HttpMethod.Get, $"/subjects/{Subject}/versions/latest")).Body.GetProperty("id").GetInt32());
        Assert.Equal(200, (await _registry.RegisterAsync("other-value", """{"type":"record","name":"Other","fields":[{"name":"n","type":"int"}]}""")).Status);
    }

    [Fact]
    public async Task A_store_never_reached_answers_50001_naming_nothing_of_it()
    {
        var port = LoopbackPort.Free();
        await using var cut = RegistryHost.OnRedis($"127.0.0.1:{port},connectTimeout=200,syncTimeout=1000,asyncTimeout=1000", "never",
            new Dictionary<string, string>(), web => web.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(_logs)));
        // A read and a write: the others go through the same store calls as in the test above.
        foreach (var (method, path, body) in s_requests.Take(3).Skip(1))
        {
            var answer = await cut.SendAsync(method, path, body);
            RegistryHost.AssertError(answer, 500, 50001);
            Assert.Equal("Error in the backend data store", answer.Body.GetProperty("message").GetString());
            var text = answer.Body.GetRawText();
            AssertNamesNothingOfTheStore(text, text);
            Assert.DoesNotContain(port.ToString(CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
        }
    }

    private void AssertNamesNothingOfTheStore(string body, string what)
    {
        Assert.DoesNotContain(_redis.Port.ToString(CultureInfo.InvariantCulture), body, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", body, StringComparison.Ordinal);
        Assert.DoesNotContain("StackExchange", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Redis", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Exception", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("outage:{sr}", body, StringComparison.Ordinal);
        Assert.True(body.Length < 100, what);
    }
}
