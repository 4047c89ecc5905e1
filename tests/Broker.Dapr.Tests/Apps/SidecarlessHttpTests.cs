using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;

namespace Broker.Dapr.Tests.Apps;

/// <summary>
/// An unchanged Dapr.AspNetCore app, run as its own process with no sidecar: it publishes with the real DaprClient
/// to Ingest, and Delivery finds its subscriptions at /dapr/subscribe and delivers to its handlers as daprd would.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SidecarlessHttpTests(RedisFixture redis) : IAsyncLifetime
{
    private const string AppId = "orders-app";
    private DaprBroker _broker = null!;
    private TestAppProcess _app = null!;
    private HttpClient _delivery = null!;

    public async Task InitializeAsync()
    {
        _broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("sidecarless"));
        _delivery = new HttpClient { BaseAddress = _broker.DeliveryHttp };
        _app = await TestAppProcess.StartAsync(_broker.IngestGrpc);
        using var declared = await _delivery.PutAsJsonAsync($"/v1/apps/{AppId}", new { url = _app.Url, protocol = "http" });
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _delivery.Dispose();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task Events_published_with_DaprClient_reach_the_handlers_once_and_RETRY_brings_one_again()
    {
        await _app.PublishAsync("orders", [.. Enumerable.Range(1, 20).Select(i => (i, 1))]);
        await _app.PublishAsync("flaky", [.. Enumerable.Range(1, 5).Select(i => (i, 1))]);

        await WaitForAsync("orders", ids => ids.Count == 20);
        await WaitForAsync("flaky", ids => ids.Count == 5 && ids.Values.All(n => n >= 2));
        var orders = await _app.ReceivedAsync("orders");
        Assert.Equal(Enumerable.Range(1, 20), orders.Keys.Order());
        Assert.All(orders.Values, n => Assert.Equal(1, n)); // no failures, so no duplicates

        // The app's id is the consumer group: once the retried events succeeded, nothing is left to deliver.
        await WaitForLagZeroAsync("flaky");
        await WaitForLagZeroAsync("orders");

        // What Dapr stored is a CloudEvent, as daprd would have made it (the handlers saw its data unwrapped).
        var stored = await _broker.ReadAllAsync("orders");
        using var cloudEvent = JsonDocument.Parse(stored[0].Value);
        Assert.Equal("com.dapr.event.sent", cloudEvent.RootElement.GetProperty("type").GetString());
        Assert.Equal("orders", cloudEvent.RootElement.GetProperty("topic").GetString());
        Assert.Equal("application/json", cloudEvent.RootElement.GetProperty("datacontenttype").GetString());

        // Delivery shows what it delivers to the app.
        var view = await _delivery.GetFromJsonAsync<JsonElement>($"/v1/apps/{AppId}");
        Assert.True(view.GetProperty("discovered").GetBoolean());
        var delivering = view.GetProperty("delivering").EnumerateArray().ToDictionary(d => d.GetProperty("topic").GetString()!, d => d.GetProperty("state").GetString());
        Assert.Equal("delivering", delivering["orders"]);
        Assert.Equal(8, delivering.Count); // every [Topic] of the app, dead-letter topics included
    }

    [Fact]
    public async Task DROP_and_404_send_the_event_to_the_subscriptions_dead_letter_topic()
    {
        await _app.PublishAsync("rejects", (1, 1), (2, 1), (3, 1));
        await _app.PublishAsync("missing", (11, 1), (12, 1));

        // The app's own subscription to the dead-letter topics gets them back.
        await WaitForAsync("dead", ids => ids.Count == 5);
        Assert.Equal([1, 2, 3, 11, 12], (await _app.ReceivedAsync("dead")).Keys.Order());
        // Dropped once: never delivered again.
        Assert.All((await _app.ReceivedAsync("rejects")).Values, n => Assert.Equal(1, n));
        Assert.All((await _app.ReceivedAsync("missing")).Values, n => Assert.Equal(1, n));

        var dropped = await _broker.ReadAllAsync("rejects-dead");
        Assert.Equal(3, dropped.Count);
        Assert.All(dropped, r => Assert.Contains("DROP", Header(r, "dlq.error")));
        Assert.All(dropped, r => Assert.Equal("rejects", Header(r, "dlq.original.topic")));
        var missing = await _broker.ReadAllAsync("missing-dead");
        Assert.Equal(2, missing.Count);
        Assert.All(missing, r => Assert.Contains("404", Header(r, "dlq.error")));
        await WaitForLagZeroAsync("rejects");
        await WaitForLagZeroAsync("missing");
    }

    [Fact]
    public async Task Rules_route_by_the_event_and_bulk_subscriptions_get_batches_with_statuses_per_entry()
    {
        await _app.PublishAsync("routed", (1, 5), (2, 500), (3, 101), (4, 100));
        await WaitForAsync("routed", ids => ids.Count == 2);
        await WaitForAsync("routed-big", ids => ids.Count == 2);
        Assert.Equal([1, 4], (await _app.ReceivedAsync("routed")).Keys.Order());
        Assert.Equal([2, 3], (await _app.ReceivedAsync("routed-big")).Keys.Order());

        // Published in one BulkPublishEvent; delivered in bulk calls of at most 10; every third entry is retried once.
        await _app.BulkPublishAsync("bulk", [.. Enumerable.Range(1, 30).Select(i => (i, 1))]);
        await WaitForAsync("bulk", ids => ids.Count == 30 && ids.Where(p => p.Key % 3 == 0).All(p => p.Value >= 2));
        var bulk = await _app.ReceivedAsync("bulk");
        Assert.All(bulk.Where(p => p.Key % 3 != 0), p => Assert.Equal(1, p.Value));
        var batches = await _app.BatchesAsync("bulk");
        Assert.All(batches, size => Assert.InRange(size, 1, 10));
        Assert.Contains(batches, size => size > 1);
        await WaitForLagZeroAsync("bulk");
    }

    [Fact]
    public async Task Bad_app_declarations_are_refused_with_problem_details()
    {
        using var badUrl = await _delivery.PutAsJsonAsync("/v1/apps/x", new { url = "not a url", protocol = "smoke" });
        Assert.Equal(HttpStatusCode.BadRequest, badUrl.StatusCode);
        var problem = await badUrl.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("protocol", out _));

        using var badRule = await _delivery.PutAsJsonAsync("/v1/apps/x", new
        {
            url = "http://127.0.0.1:1",
            subscriptions = new[] { new { pubsubname = "pubsub", topic = "t", routes = new { rules = new[] { new { match = "event.type ==", path = "/a" } } } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, badRule.StatusCode);
        Assert.Contains("event.type ==", await badRule.Content.ReadAsStringAsync());

        using var badId = await _delivery.PutAsJsonAsync("/v1/apps/a:b", new { url = "http://127.0.0.1:1" });
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);

        using var missing = await _delivery.DeleteAsync("/v1/apps/nobody");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Declared subscriptions are taken as given, with no discovery; DELETE stops delivery.
        using var declared = await _delivery.PutAsJsonAsync("/v1/apps/declared", new
        {
            url = _app.Url,
            subscriptions = new[] { new { pubsubname = "pubsub", topic = "orders", route = "/orders" } },
        });
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        var view = await _delivery.GetFromJsonAsync<JsonElement>("/v1/apps/declared");
        Assert.False(view.GetProperty("discovered").GetBoolean());
        using var deleted = await _delivery.DeleteAsync("/v1/apps/declared");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await _delivery.GetAsync("/v1/apps/declared");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private async Task WaitForAsync(string handler, Func<Dictionary<int, int>, bool> done)
    {
        var received = new Dictionary<int, int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!done(received = await _app.ReceivedAsync(handler)))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                var view = await _delivery.GetStringAsync($"/v1/apps/{AppId}");
                Assert.Fail($"{handler} received {JsonSerializer.Serialize(received)}; Delivery sees {view}; app: {_app.Output}");
            }
            await Task.Delay(50);
        }
    }

    private async Task WaitForLagZeroAsync(string topic)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var group = await _delivery.GetFromJsonAsync<JsonElement>($"/v1/groups/{AppId}");
            var lag = group.GetProperty("topics").EnumerateArray().Where(t => t.GetProperty("topic").GetString() == topic).Select(t => t.GetProperty("lag").GetInt64()).ToList();
            if (lag is [0])
            {
                return;
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"Group {AppId} on {topic}: {group}");
            }
            await Task.Delay(100);
        }
    }

    private static string Header(Contracts.Batches.Record record, string name) =>
        Encoding.UTF8.GetString(record.Headers.First(h => h.Name == name).Value.Span);
}
