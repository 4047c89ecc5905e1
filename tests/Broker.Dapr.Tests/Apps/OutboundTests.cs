extern alias delivery;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Dapr.Client;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using DaprApp = delivery::Broker.Delivery.Dapr.DaprApp;
using IDaprAppStore = delivery::Broker.Delivery.Dapr.IDaprAppStore;

namespace Broker.Dapr.Tests.Apps;

/// <summary>
/// Delivery's calls to Dapr apps are safe: only to hosts Delivery:Outbound:AllowedHosts allows (loopback in
/// Development when it is empty), never following a redirect, reading at most 1 MiB of an answer, telling callers
/// whether the target answered and no more, and never with credentials in the URL.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class OutboundTests(RedisFixture redis)
{
    private const string NoAnswer = "Discovery failed: the target did not answer";

    [Fact]
    public async Task An_app_outside_the_allow_list_is_refused_naming_the_setting_and_nothing_is_stored_or_called()
    {
        await using var target = await OutboundTarget.StartAsync(app => app.MapGet("/dapr/subscribe", () => Results.Json(Array.Empty<object>())));
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("allowlist"),
            new Dictionary<string, string> { ["Delivery:Outbound:AllowedHosts:0"] = "orders.internal:8080" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };

        // One host allowed: loopback is not, by address or by name, nor another port of the allowed host.
        foreach (var (url, host) in new[]
        {
            (target.Url.ToString(), $"127.0.0.1:{target.Port}"),
            ($"http://localhost:{target.Port}", $"localhost:{target.Port}"),
            ("http://orders.internal:8081", "orders.internal:8081"),
        })
        {
            using var refused = await delivery.PutAsJsonAsync("/v1/apps/outsider", new { url });
            var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest);
            Assert.Equal($"host '{host}' is not in Delivery:Outbound:AllowedHosts.", problem.GetProperty("errors").GetProperty("url")[0].GetString());
            Assert.Contains("Delivery:Outbound:AllowedHosts", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using var allowed = await delivery.PutAsJsonAsync("/v1/apps/insider", new
        {
            url = "http://orders.internal:8080",
            subscriptions = new[] { new { pubsubname = "pubsub", topic = "t", route = "/t" } },
        });
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);

        using var stored = await delivery.GetAsync("/v1/apps/outsider");
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
        await Task.Delay(2500); // a reconcile pass of the store, and a discovery it would have made
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task Outside_Development_an_empty_allow_list_refuses_every_app()
    {
        await using var target = await OutboundTarget.StartAsync(app => app.MapGet("/dapr/subscribe", () => Results.Json(Array.Empty<object>())));
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("production"),
            new Dictionary<string, string> { ["environment"] = "Production" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };

        foreach (var url in new[] { target.Url.ToString(), $"http://localhost:{target.Port}", "http://[::1]:8080", "http://orders:8080" })
        {
            using var refused = await delivery.PutAsJsonAsync("/v1/apps/any", new { url, protocol = "grpc" });
            var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest);
            Assert.Contains("is not in Delivery:Outbound:AllowedHosts (it is empty: no outbound calls outside Development)",
                problem.GetProperty("errors").GetProperty("url")[0].GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task Apps_from_configuration_outside_the_allow_list_stop_the_start()
    {
        var failure = await FailedStartAsync(new Dictionary<string, string?>
        {
            ["Delivery:Outbound:AllowedHosts:0"] = "orders.internal",
            ["Delivery:Dapr:Apps:billing:Url"] = "http://127.0.0.1:9",
            ["Delivery:Dapr:Apps:orders:Url"] = "http://orders.internal:8080",
            ["Delivery:Dapr:Apps:secret:Url"] = "http://user:pw@orders.internal:8080",
        });
        Assert.Contains("Delivery:Dapr:Apps:billing:Url: host '127.0.0.1:9' is not in Delivery:Outbound:AllowedHosts", failure, StringComparison.Ordinal);
        Assert.Contains("Delivery:Dapr:Apps:secret:Url: the URL carries credentials", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("Delivery:Dapr:Apps:orders:Url", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("pw@", failure, StringComparison.Ordinal);

        // And a list Delivery cannot read stops it too.
        Assert.Contains("Delivery:Outbound:AllowedHosts: 'http://orders.internal' is not a host name",
            await FailedStartAsync(new Dictionary<string, string?> { ["Delivery:Outbound:AllowedHosts:0"] = "http://orders.internal" }),
            StringComparison.Ordinal);
    }

    /// <summary>
    /// Builds Delivery as its Program does and returns the messages of its failed start. Not through
    /// WebApplicationFactory: when a start fails, the entry point's Run disposes the host while the factory may still
    /// be reading its services, and the factory then reports ObjectDisposedException instead of the start's reason.
    /// </summary>
    private static async Task<string> FailedStartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(delivery::Program).Assembly.GetName().Name,
            ContentRootPath = Path.GetTempPath(),
            EnvironmentName = "Development",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        Microsoft.Extensions.Hosting.ServiceDefaultsExtensions.AddServiceDefaults(builder);
        delivery::Microsoft.Extensions.Hosting.DeliveryServiceExtensions.AddDeliveryServices(builder);
        await using var app = builder.Build();
        return Flatten(await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync()));
    }

    [Fact]
    public async Task Redirects_are_never_followed_and_are_refusals()
    {
        await using var elsewhere = await OutboundTarget.StartAsync(app => app.Map("/{**path}", () => Results.Json(Array.Empty<object>())));
        await using var redirecting = await OutboundTarget.StartAsync(app =>
        {
            app.MapGet("/dapr/subscribe", () => Results.Redirect($"{elsewhere.Url}dapr/subscribe"));
            app.MapPost("/moved", () => Results.Redirect($"{elsewhere.Url}moved", permanent: false, preserveMethod: true));
        });
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("redirects"));
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };

        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/redirector", new { url = redirecting.Url }))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        var lastError = await LastErrorAsync(delivery, "redirector");
        Assert.Equal("Discovery failed: refused by the target (HTTP 302)", lastError);

        // A delivery answered 307: a failure like any refusal (retried, then the topic's dead-letter topic), never followed.
        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/mover", new
        {
            url = redirecting.Url,
            subscriptions = new[] { new { pubsubname = "pubsub", topic = "moving", route = "/moved" } },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(broker.IngestGrpc.ToString()).Build();
        await dapr.PublishEventAsync("pubsub", "moving", new { id = 1 });
        var dead = await DeadLettersAsync(broker, "moving.dlq");
        Assert.Equal("POST /moved: refused by the target (HTTP 307)", Header(dead[0], "dlq.error"));
        Assert.Equal(0, elsewhere.Requests);
        Assert.True(redirecting.Requests >= 2, $"{redirecting.Requests} requests");
    }

    [Fact]
    public async Task A_closed_port_and_a_port_that_never_answers_look_the_same()
    {
        using var silent = new SilentListener();
        var closed = LoopbackPort.Free();
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("unanswered"),
            new Dictionary<string, string> { ["Delivery:Dapr:AppTimeoutMs"] = "1000" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        var apps = new Dictionary<string, object>
        {
            ["closed-http"] = new { url = $"http://127.0.0.1:{closed}" },
            ["silent-http"] = new { url = silent.Url },
            ["closed-grpc"] = new { url = $"http://127.0.0.1:{closed}", protocol = "grpc" },
            ["silent-grpc"] = new { url = silent.Url, protocol = "grpc" },
        };
        foreach (var (id, app) in apps)
        {
            using var declared = await delivery.PutAsJsonAsync($"/v1/apps/{id}", app);
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        foreach (var id in apps.Keys)
        {
            var lastError = await LastErrorAsync(delivery, id);
            Assert.Equal(NoAnswer, lastError);
        }
        Assert.True(silent.Accepted > 0, "the silent port was asked");
        var all = await delivery.GetStringAsync("/v1/apps");
        Assert.DoesNotContain("refused", all, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("timed out", all, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("connection", all, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_50_MB_subscribe_answer_fails_discovery_naming_the_cap_and_Delivery_keeps_none_of_it()
    {
        const int answerBytes = 50 * 1024 * 1024;
        await using var huge = await OutboundTarget.StartEndlessSubscribeAsync(answerBytes);
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("huge"));
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        var retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var workingSetBefore = Environment.WorkingSet;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/huge", new { url = huge.Url }))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        var lastError = await LastErrorAsync(delivery, "huge");
        Assert.Equal("Discovery failed: the answer to GET /dapr/subscribe is larger than 1 MiB (1048576 bytes), the most Delivery reads "
            + "(Delivery:Outbound:MaxResponseBytes)", lastError);
        // Asked again every 2 s, as an app that is starting up would be: three answers' worth.
        await Wait.UntilAsync(() => huge.Requests >= 3, TimeSpan.FromSeconds(30), () => $"three discoveries; {huge.Requests} so far");
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var retained = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
        var figures = $"allocated {allocated / 1024 / 1024} MiB over {huge.Requests} discoveries, retained {retained / 1024 / 1024} MiB, "
            + $"working set grew {(Environment.WorkingSet - workingSetBefore) / 1024 / 1024} MiB";
        // Everything the whole test process allocated meanwhile is less than one answer: no answer was read whole.
        Assert.True(allocated < answerBytes, figures);
        Assert.True(retained < 16 * 1024 * 1024, figures);

        using var deleted = await delivery.DeleteAsync("/v1/apps/huge");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Task.Delay(500);
        var afterDelete = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
        Assert.True(afterDelete < 16 * 1024 * 1024, $"{figures}; after the delete {afterDelete / 1024 / 1024} MiB retained");
    }

    [Fact]
    public async Task A_gRPC_app_whose_subscription_list_is_past_the_cap_fails_discovery_naming_it()
    {
        await using var app = await OutboundTarget.StartAsync(
            web => web.MapGrpcService<HugeSubscriptions>(),
            builder => builder.Services.AddGrpc(),
            http2: true);
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("grpchuge"));
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/grpc-huge", new { url = app.Url, protocol = "grpc" }))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        Assert.Equal("Discovery failed: the answer to ListTopicSubscriptions is larger than 1 MiB (1048576 bytes), the most Delivery reads "
            + "(Delivery:Outbound:MaxResponseBytes)", await LastErrorAsync(delivery, "grpc-huge"));
    }

    [Fact]
    public async Task Credentials_in_an_app_URL_are_refused_and_one_stored_before_is_shown_redacted_and_not_called()
    {
        await using var target = await OutboundTarget.StartAsync(app => app.MapGet("/dapr/subscribe", () => Results.Json(Array.Empty<object>())));
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("credentials"));
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        var url = $"http://user:s3cr3t@127.0.0.1:{target.Port}";

        using var refused = await delivery.PutAsJsonAsync("/v1/apps/secretive", new { url });
        var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest);
        Assert.Contains("credentials", problem.GetProperty("errors").GetProperty("url")[0].GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", problem.ToString(), StringComparison.Ordinal);
        using var notStored = await delivery.GetAsync("/v1/apps/secretive");
        Assert.Equal(HttpStatusCode.NotFound, notStored.StatusCode);

        // As if declared before such URLs were refused.
        var store = broker.DeliveryServices.GetRequiredService<IDaprAppStore>();
        await store.PutAsync(new DaprApp("legacy", new Uri(url), delivery::Broker.Delivery.Dapr.AppProtocol.Http, null, DaprApp.FromApi), CancellationToken.None);
        var lastError = await LastErrorAsync(delivery, "legacy");
        Assert.StartsWith("Not called: the URL carries credentials", lastError, StringComparison.Ordinal);
        var view = await delivery.GetFromJsonAsync<JsonElement>("/v1/apps/legacy");
        Assert.Equal($"http://***@127.0.0.1:{target.Port}/", view.GetProperty("url").GetString());
        Assert.Empty(view.GetProperty("delivering").EnumerateArray());
        Assert.DoesNotContain("s3cr3t", await delivery.GetStringAsync("/v1/apps"), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", await delivery.GetStringAsync("/v1/apps/legacy"), StringComparison.Ordinal);
        await Task.Delay(2500);
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task A_changed_allow_list_stops_calls_to_an_app_it_no_longer_allows()
    {
        await using var target = await OutboundTarget.StartAsync(app => app.MapGet("/dapr/subscribe", () => Results.Json(Array.Empty<object>())));
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("changed"),
            new Dictionary<string, string> { ["Delivery:Dapr:DiscoveryIntervalMs"] = "1000" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/fickle", new { url = target.Url }))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        await Wait.UntilAsync(() => target.Requests >= 2, TimeSpan.FromSeconds(30), () => "two discoveries");

        var configuration = (IConfigurationRoot)broker.DeliveryServices.GetRequiredService<IConfiguration>();
        configuration["Delivery:Outbound:AllowedHosts:0"] = "orders.internal";
        configuration.Reload();

        var lastError = await LastErrorAsync(delivery, "fickle", e => e.StartsWith("Not called", StringComparison.Ordinal));
        Assert.Equal($"Not called: host '127.0.0.1:{target.Port}' is not in Delivery:Outbound:AllowedHosts.", lastError);
        var calls = target.Requests;
        await Task.Delay(2500);
        Assert.Equal(calls, target.Requests);
    }

    /// <summary>A gRPC app whose ListTopicSubscriptions answers some 2 MiB of subscriptions.</summary>
    public sealed class HugeSubscriptions : AppCallback.AppCallbackBase
    {
        public override Task<ListTopicSubscriptionsResponse> ListTopicSubscriptions(Empty request, ServerCallContext context)
        {
            var response = new ListTopicSubscriptionsResponse();
            for (var i = 0; i < 20_000; i++)
            {
                response.Subscriptions.Add(new TopicSubscription { PubsubName = "pubsub", Topic = $"topic-{i}", Routes = new TopicRoutes { Default = new string('r', 100) } });
            }
            return Task.FromResult(response);
        }
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>The app's lastError once it has one (and <paramref name="done"/> holds).</summary>
    private static async Task<string> LastErrorAsync(HttpClient delivery, string appId, Func<string, bool>? done = null)
    {
        string? lastError = null;
        var view = "";
        var clock = Stopwatch.StartNew();
        while (lastError is null || !(done?.Invoke(lastError) ?? true))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"app {appId}: {view}");
            await Task.Delay(50);
            view = await delivery.GetStringAsync($"/v1/apps/{appId}");
            lastError = JsonDocument.Parse(view).RootElement.GetProperty("lastError").GetString();
        }
        return lastError;
    }

    private static async Task<List<Contracts.Batches.Record>> DeadLettersAsync(DaprBroker broker, string topic)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await broker.ReadAllAsync(topic) is { Count: > 0 } records)
                {
                    return records;
                }
            }
            catch (RpcException)
            {
                // not made yet
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"nothing on {topic}");
            await Task.Delay(100);
        }
    }

    private static string Header(Contracts.Batches.Record record, string name) =>
        Encoding.UTF8.GetString(record.Headers.First(h => h.Name == name).Value.Span);

    private static string Flatten(Exception exception)
    {
        var text = new StringBuilder();
        for (var e = exception; e is not null; e = e.InnerException)
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
