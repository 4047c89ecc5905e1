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
    public async Task An_order_posted_to_the_API_reaches_the_worker_and_the_Dapr_app_and_so_it_does_through_AddBrokerConnection()
    {
        var data = Path.Combine(Path.GetTempPath(), "orders-sample-" + Guid.NewGuid().ToString("N")[..8]);
        await using var app = await StartAsync(["--DcpPublisher:RandomizePorts=true", $"--OrdersSample:DataDirectory={data}"]);
        try
        {
            await PlaceAndReceiveAsync(app, "customer-7");

            // The same sample pointed at that broker through its connection string (AddBrokerConnection): it runs the
            // three apps and no broker of its own. The first app's apps stop, as they would share its groups.
            var broker = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<BrokerResource>().Single();
            var connection = await broker.ConnectionStringExpression.GetValueAsync(CancellationToken.None);
            Assert.Contains("Ingest=http://", connection, StringComparison.Ordinal);
            var commands = app.Services.GetRequiredService<ResourceCommandService>();
            foreach (var name in s_apps)
            {
                var stopped = await commands.ExecuteCommandAsync(name, KnownResourceCommands.StopCommand);
                Assert.True(stopped.Success, $"{name}: {stopped.Message}");
            }
            await using var elsewhere = await StartAsync(["--DcpPublisher:RandomizePorts=true", $"--ConnectionStrings:broker={connection}"]);
            var model = elsewhere.Services.GetRequiredService<DistributedApplicationModel>();
            Assert.Empty(model.Resources.OfType<BrokerResource>());
            Assert.DoesNotContain(model.Resources.OfType<ProjectResource>(), p => p.Name is "storage" or "ingest" or "delivery");
            await PlaceAndReceiveAsync(elsewhere, "customer-8");
            await StopAsync(elsewhere);
        }
        finally
        {
            await StopAsync(app);
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>The sample's AppHost under DCP with <paramref name="arguments"/>, its three apps healthy.</summary>
    private static async Task<DistributedApplication> StartAsync(string[] arguments)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Orders_AppHost>(arguments, (options, _) => options.DisableDashboard = true);
        var app = await builder.BuildAsync();
        using var starting = new CancellationTokenSource(s_startTimeout);
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
            var states = States(app);
            await StopAsync(app);
            await app.DisposeAsync();
            Assert.Fail($"The sample was not healthy within {s_startTimeout}: {states}");
        }
        return app;
    }

    private static async Task StopAsync(DistributedApplication app)
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await app.StopAsync(stopping.Token);
    }

    /// <summary>POST /orders to the API; the worker (polling Delivery) and the Dapr app (Delivery POSTs to it) receive it.</summary>
    private static async Task PlaceAndReceiveAsync(DistributedApplication app, string customer)
    {
        using var api = app.CreateHttpClient("orders-api");
        using var placed = await api.PostAsJsonAsync("/orders", new { customer, total = 12.5m });
        Assert.True(placed.StatusCode == HttpStatusCode.Accepted, $"POST /orders answered {(int)placed.StatusCode}: {await placed.Content.ReadAsStringAsync()}");
        var answer = await placed.Content.ReadFromJsonAsync<JsonElement>();
        var id = answer.GetProperty("order").GetProperty("id").GetString();
        Assert.False(string.IsNullOrEmpty(id));

        // The worker polls Delivery as the group orders-worker; Delivery POSTs to the Dapr app as the group orders-dapr.
        foreach (var receiver in new[] { "orders-worker", "orders-dapr" })
        {
            var order = await ReceivedAsync(app, receiver, id, s_deliveryTimeout);
            Assert.Equal(customer, order.GetProperty("customer").GetString());
            Assert.Equal(12.5m, order.GetProperty("total").GetDecimal());
        }

        // Bad input is refused by the API, not sent on.
        using var bad = await api.PostAsJsonAsync("/orders", new { customer = "", total = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
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
