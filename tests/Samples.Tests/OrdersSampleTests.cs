using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Samples.Tests;

/// <summary>samples/OrdersSample as a user runs it: its AppHost (the broker from AddBroker and the three apps) under DCP.</summary>
public sealed class OrdersSampleTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan s_deliveryTimeout = TimeSpan.FromSeconds(60);
    private static readonly string[] s_apps = ["orders-api", "orders-worker", "orders-dapr"];

    [Fact]
    public async Task An_order_posted_to_the_API_reaches_the_worker_and_the_Dapr_app()
    {
        var data = Path.Combine(Path.GetTempPath(), "orders-sample-" + Guid.NewGuid().ToString("N")[..8]);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Orders_AppHost>(
            ["--DcpPublisher:RandomizePorts=true", $"--OrdersSample:DataDirectory={data}"],
            (options, _) => options.DisableDashboard = true);
        await using var app = await builder.BuildAsync();
        try
        {
            using (var starting = new CancellationTokenSource(s_startTimeout))
            {
                try
                {
                    await app.StartAsync(starting.Token);
                    foreach (var name in s_apps)
                    {
                        await app.ResourceNotifications.WaitForResourceHealthyAsync(name, starting.Token);
                    }
                }
                catch (OperationCanceledException) when (starting.IsCancellationRequested)
                {
                    Assert.Fail($"The sample was not healthy within {s_startTimeout}: {States(app)}");
                }
            }

            using var api = app.CreateHttpClient("orders-api");
            using var placed = await api.PostAsJsonAsync("/orders", new { customer = "customer-7", total = 12.5m });
            Assert.True(placed.StatusCode == HttpStatusCode.Accepted, $"POST /orders answered {(int)placed.StatusCode}: {await placed.Content.ReadAsStringAsync()}");
            var answer = await placed.Content.ReadFromJsonAsync<JsonElement>();
            var id = answer.GetProperty("order").GetProperty("id").GetString();
            Assert.False(string.IsNullOrEmpty(id));

            // The worker polls Delivery as the group orders-worker; Delivery POSTs to the Dapr app as the group orders-dapr.
            foreach (var receiver in new[] { "orders-worker", "orders-dapr" })
            {
                var order = await ReceivedAsync(app, receiver, id, s_deliveryTimeout);
                Assert.Equal("customer-7", order.GetProperty("customer").GetString());
                Assert.Equal(12.5m, order.GetProperty("total").GetDecimal());
            }

            // Bad input is refused by the API, not sent on.
            using var bad = await api.PostAsJsonAsync("/orders", new { customer = "", total = 0 });
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await app.StopAsync(stopping.Token);
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>Polls <c>GET /received</c> of <paramref name="resource"/> until the order <paramref name="id"/> is in it.</summary>
    private static async Task<JsonElement> ReceivedAsync(DistributedApplication app, string resource, string? id, TimeSpan timeout)
    {
        using var client = app.CreateHttpClient(resource);
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await client.GetStringAsync("/received");
            foreach (var order in JsonDocument.Parse(last).RootElement.EnumerateArray())
            {
                if (order.GetProperty("id").GetString() == id)
                {
                    return order.Clone();
                }
            }
            await Task.Delay(250);
        }
        var logs = await LogsAsync(app, resource);
        Assert.Fail($"{resource} did not receive order {id} within {timeout}; GET /received: {last}; {States(app)}; its log:\n{logs}");
        return default;
    }

    /// <summary>The last lines <paramref name="resource"/> logged, for a failure message.</summary>
    private static async Task<string> LogsAsync(DistributedApplication app, string resource)
    {
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await foreach (var batch in app.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resource).WithCancellation(timeout.Token))
            {
                lines.AddRange(batch.Select(l => l.Content));
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // What was logged by then.
        }
        return string.Join('\n', lines.TakeLast(30));
    }

    private static string States(DistributedApplication app)
    {
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        return string.Join("; ", model.Resources.Select(r => app.ResourceNotifications.TryGetCurrentState(r.Name, out var e)
            ? $"{r.Name}: {e.Snapshot.State?.Text} {e.Snapshot.HealthStatus}"
            : $"{r.Name}: (no state)"));
    }
}
