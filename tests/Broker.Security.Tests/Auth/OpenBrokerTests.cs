extern alias ingest;
extern alias storage;

using System.Globalization;
using System.Net;
using Broker.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Security.Tests.Auth;

/// <summary>
/// With no credential configured the broker runs open, as before, and says so; beyond loopback it will not start
/// unless Auth:AllowAnonymous says an open broker there is intended. Probes and scrapes need no credential either way.
/// </summary>
public sealed class OpenBrokerTests
{
    [Fact]
    public async Task Open_on_loopback_starts_and_serves_everyone()
    {
        var url = $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}";
        await using var storage = Storage(url, new());
        storage.StartServer();
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/topics/open", JsonContent("""{"partitions":1}"""))).StatusCode);
    }

    [Theory]
    [InlineData("http://0.0.0.0:{port}")]
    [InlineData("http://*:{port}")]
    [InlineData("http://[::]:{port}")]
    public void Open_beyond_loopback_refuses_to_start_naming_the_way_out(string address)
    {
        var url = address.Replace("{port}", LoopbackPort.Free().ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var storage = Storage(url, new());
        var refused = Assert.ThrowsAny<Exception>(storage.StartServer);
        var message = Flatten(refused);
        Assert.Contains("Refusing to start", message, StringComparison.Ordinal);
        Assert.Contains("Auth:AllowAnonymous=true", message, StringComparison.Ordinal);
        Assert.Contains("Auth:Keys", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_beyond_loopback_starts_when_allowed_on_purpose_and_with_keys_it_needs_no_allowance()
    {
        var port = LoopbackPort.Free();
        await using (var allowed = Storage($"http://0.0.0.0:{port.ToString(CultureInfo.InvariantCulture)}", new() { ["Auth:AllowAnonymous"] = "true" }))
        {
            allowed.StartServer();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}") };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/topics")).StatusCode);
        }

        port = LoopbackPort.Free();
        await using var secured = Storage($"http://0.0.0.0:{port.ToString(CultureInfo.InvariantCulture)}", new() { ["Auth:Keys:admin"] = "admin-key-0123456789abcdef" });
        secured.StartServer();
        using var anonymous = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}") };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/topics")).StatusCode);
        // Probes and the scrape need nothing; with Auth:ProtectMetrics the scrape would need a credential too.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/alive")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Protected_metrics_need_a_credential()
    {
        var url = $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}";
        await using var storage = Storage(url, new() { ["Auth:Keys:admin"] = "admin-key-0123456789abcdef", ["Auth:ProtectMetrics"] = "true" });
        storage.StartServer();
        using var anonymous = new HttpClient { BaseAddress = new Uri(url) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        using var admin = new HttpClient { BaseAddress = new Uri(url) };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", "admin-key-0123456789abcdef");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/metrics")).StatusCode);
    }

    [Theory]
    [InlineData("Auth:Keys:alice", "short", "Auth:Keys:alice: a secret has 16 to 1024 characters")]
    [InlineData("Auth:Keys:a b", "a-long-enough-secret-0123", "has a space")]
    [InlineData("Auth:ServiceKey", "short", "Auth:ServiceKey: a secret has 16")]
    [InlineData("Auth:Jwt:Authority", "not a url", "Auth:Jwt:Authority must be the issuer's absolute URL")]
    public void Bad_auth_settings_stop_the_start_naming_the_key(string key, string value, string says)
    {
        using var storage = Storage($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}", new() { [key] = value });
        var refused = Assert.ThrowsAny<Exception>(storage.StartServer);
        Assert.Contains(says, Flatten(refused), StringComparison.Ordinal);
    }

    [Fact]
    public void Two_principals_with_one_secret_are_refused()
    {
        using var storage = Storage($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}", new()
        {
            ["Auth:Keys:alice"] = "the-same-secret-0123456789",
            ["Auth:Keys:bob"] = "the-same-secret-0123456789",
        });
        Assert.Contains("two principals share a secret", Flatten(Assert.ThrowsAny<Exception>(storage.StartServer)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_that_calls_Storage_needs_the_service_key_once_keys_are_on()
    {
        using var ingest = new WebApplicationFactory<ingest::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Kestrel:Endpoints:Http:Url", $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
            web.UseSetting("Kestrel:Endpoints:Grpc:Url", $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
            web.UseSetting("Auth:Keys:admin", "admin-key-0123456789abcdef");
        });
        ingest.UseKestrel();
        Assert.Contains("Auth:ServiceKey must be set when authentication is on", Flatten(Assert.ThrowsAny<Exception>(ingest.StartServer)), StringComparison.Ordinal);
    }

    private static WebApplicationFactory<storage::Program> Storage(string url, Dictionary<string, string> settings)
    {
        var factory = new WebApplicationFactory<storage::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Kestrel:Endpoints:Http:Url", url);
            web.UseSetting("Kestrel:Endpoints:Http:Protocols", "Http1");
            // appsettings.json's gRPC endpoint (5101) replaced too: another test run may hold that port.
            web.UseSetting("Kestrel:Endpoints:Grpc:Url", $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
            web.UseSetting("Storage:HotTier", "memory");
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }
        });
        factory.UseKestrel();
        return factory;
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static string Flatten(Exception ex)
    {
        var text = new System.Text.StringBuilder();
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            text.AppendLine(e.Message);
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    text.AppendLine(Flatten(inner));
                }
            }
        }
        return text.ToString();
    }
}
