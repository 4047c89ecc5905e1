using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;
using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Broker.Dapr.Tests.Apps;

/// <summary>
/// Routing rules come from anyone who can declare an app, and from whatever an app's /dapr/subscribe answers:
/// a rule too long or nested too deep is refused (400 naming the limit through the API, the subscription skipped
/// through discovery), and Delivery stays up and keeps delivering the app's other subscriptions.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RuleLimitsTests(RedisFixture redis) : IAsyncLifetime
{
    /// <summary>The rule of the security report: 100 KB of nested parentheses, a stack overflow in the parser before.</summary>
    private static readonly string s_hugeRule = new string('(', 50_000) + "true" + new string(')', 50_000);

    /// <summary>Short enough for the size limit, nested past the depth limit.</summary>
    private static readonly string s_deepRule = new string('(', 40) + "event.type == \"x\"" + new string(')', 40);

    private DaprBroker _broker = null!;
    private HttpClient _delivery = null!;

    public Task InitializeAsync()
    {
        _broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("rulelimits"));
        _delivery = new HttpClient { BaseAddress = _broker.DeliveryHttp };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _delivery.Dispose();
        await _broker.DisposeAsync();
    }

    [Theory]
    [InlineData("huge", "EventRule.MaxLength")]
    [InlineData("deep", "EventRule.MaxDepth")]
    public async Task A_declared_rule_past_a_limit_is_a_400_naming_the_limit_and_Delivery_still_answers(string which, string limit)
    {
        using var put = await _delivery.PutAsJsonAsync("/v1/apps/attacker", new
        {
            url = "http://127.0.0.1:9",
            subscriptions = new[]
            {
                new { pubsubname = "pubsub", topic = "orders", routes = new { rules = new[] { new { match = which == "huge" ? s_hugeRule : s_deepRule, path = "/a" } } } },
            },
        });
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("application/problem+json", put.Content.Headers.ContentType?.MediaType);
        var problem = await put.Content.ReadFromJsonAsync<JsonElement>();
        var message = problem.GetProperty("errors").GetProperty("subscriptions")[0].GetString()!;
        Assert.Contains(limit, message, StringComparison.Ordinal);
        Assert.True(message.Length < 1_000, "the refusal quotes the rule, not all of it");

        // Still up, and nothing was stored.
        using var gone = await _delivery.GetAsync("/v1/apps/attacker");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var health = await _delivery.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task A_discovered_rule_past_a_limit_skips_that_subscription_and_the_apps_others_still_deliver()
    {
        await using var app = await SubscribingApp.StartAsync(JsonSerializer.Serialize(new object[]
        {
            new { pubsubname = "pubsub", topic = "huge", routes = new { rules = new[] { new { match = s_hugeRule, path = "/huge" } }, @default = "/huge" } },
            new { pubsubname = "pubsub", topic = "deep", routes = new { rules = new[] { new { match = s_deepRule, path = "/deep" } }, @default = "/deep" } },
            new { pubsubname = "pubsub", topic = "fine", routes = new { rules = new[] { new { match = "event.data.n > 0", path = "/fine" } } } },
        }));
        using var declared = await _delivery.PutAsJsonAsync("/v1/apps/discovered", new { url = app.Url, protocol = "http" });
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);

        var view = await WaitForViewAsync("discovered", v => Delivering(v).Count > 0);
        Assert.Equal(["fine"], Delivering(view).Keys);
        // What the app answered is shown as it answered it; only the good subscription runs.
        Assert.Equal(3, view.GetProperty("subscriptions").GetArrayLength());

        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(_broker.IngestGrpc.ToString()).Build();
        await WaitForViewAsync("discovered", v => Delivering(v).GetValueOrDefault("fine") == "delivering");
        await dapr.PublishEventAsync("pubsub", "fine", new { n = 1 });
        await dapr.PublishEventAsync("pubsub", "fine", new { n = 2 });
        await Wait.UntilAsync(() => app.Received.GetValueOrDefault("/fine") == 2, TimeSpan.FromSeconds(60),
            () => $"two events at /fine; the app got {JsonSerializer.Serialize(app.Received)}");

        // Rediscovery (the same answer again) changes nothing and crashes nothing.
        using var alive = await _delivery.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal(["fine"], Delivering(await _delivery.GetFromJsonAsync<JsonElement>("/v1/apps/discovered")).Keys);
        Assert.False(app.Received.ContainsKey("/huge"));
        Assert.False(app.Received.ContainsKey("/deep"));
    }

    [Fact]
    public async Task A_subscription_list_larger_than_the_answer_limit_is_a_discovery_error_not_an_outage()
    {
        var padding = new string(' ', 2 * 1024 * 1024);
        await using var app = await SubscribingApp.StartAsync($$"""[{"pubsubname":"pubsub","topic":"fine","route":"/fine"}{{padding}}]""");
        using var declared = await _delivery.PutAsJsonAsync("/v1/apps/talkative", new { url = app.Url, protocol = "http" });
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);

        var view = await WaitForViewAsync("talkative", v => v.GetProperty("lastError").ValueKind == JsonValueKind.String);
        Assert.Contains("Discovery failed", view.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Empty(Delivering(view));
        using var alive = await _delivery.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    private static Dictionary<string, string> Delivering(JsonElement view) => view.GetProperty("delivering").EnumerateArray()
        .ToDictionary(d => d.GetProperty("topic").GetString()!, d => d.GetProperty("state").GetString()!);

    private async Task<JsonElement> WaitForViewAsync(string appId, Func<JsonElement, bool> done)
    {
        var view = default(JsonElement);
        await Wait.UntilAsync(() =>
        {
            view = _delivery.GetFromJsonAsync<JsonElement>($"/v1/apps/{appId}").GetAwaiter().GetResult();
            return done(view);
        }, TimeSpan.FromSeconds(30), () => $"app {appId}: {view}");
        return view;
    }

    /// <summary>A Dapr app over HTTP in the test: its /dapr/subscribe answers the given text, and it counts the events each path gets.</summary>
    private sealed class SubscribingApp : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private SubscribingApp(WebApplication app, Uri url)
        {
            _app = app;
            Url = url;
        }

        public Uri Url { get; }

        public ConcurrentDictionary<string, int> Received { get; } = new(StringComparer.Ordinal);

        public static async Task<SubscribingApp> StartAsync(string subscriptions)
        {
            var url = new Uri($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
            // Not the test folder's appsettings.json (a service's, copied there by the build): its Kestrel endpoints would be bound too.
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, url.Port));
            var web = builder.Build();
            var app = new SubscribingApp(web, url);
            web.MapGet("/dapr/subscribe", () => Results.Text(subscriptions, "application/json"));
            web.MapPost("/{path}", (string path) =>
            {
                app.Received.AddOrUpdate("/" + path, 1, (_, n) => n + 1);
                return Results.Json(new { status = "SUCCESS" });
            });
            await web.StartAsync();
            return app;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
