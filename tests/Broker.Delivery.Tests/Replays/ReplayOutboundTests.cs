using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Delivery.Replays;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Delivery.Tests.Replays;

/// <summary>
/// A replay's URL target is called only where Delivery:Outbound:AllowedHosts allows, never through a redirect,
/// without credentials, and a failed job says whether the target answered and no more.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ReplayOutboundTests(RedisFixture redis) : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);
    private readonly string _prefix = redis.NewPrefix("replayout");
    private BrokerCluster _cluster = null!;

    private static readonly Dictionary<string, string> s_settings = new()
    {
        ["Delivery:Replay:PollIntervalMs"] = "100",
        ["Delivery:Replay:LeaseMs"] = "2000",
        ["Delivery:Replay:ProgressIntervalMs"] = "200",
        ["Delivery:Replay:HttpTimeoutMs"] = "500",
    };

    public async Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, _prefix, s_settings);
        await _cluster.CreateTopicAsync("records", 1);
        await _cluster.ProduceAsync("records", [.. Enumerable.Range(0, 10).Select(i => ((string?)null, $"\"r{i}\""))]);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_URL_outside_the_allow_list_is_refused_naming_the_setting_and_nothing_is_stored_or_called()
    {
        await using var target = await ReceiverAsync();
        var oneHost = _cluster.StartDelivery(new Dictionary<string, string> { ["Delivery:Outbound:AllowedHosts:0"] = "records.internal" });
        foreach (var (url, host) in new[] { ($"{target.Url}records", $"127.0.0.1:{target.Port}"), ($"http://localhost:{target.Port}/records", $"localhost:{target.Port}") })
        {
            var problem = await RefusedAsync(oneHost, url);
            Assert.Equal($"host '{host}' is not in Delivery:Outbound:AllowedHosts.", problem.GetProperty("errors").GetProperty("target.url")[0].GetString());
            Assert.Equal($"host '{host}' is not in Delivery:Outbound:AllowedHosts.", problem.GetProperty("detail").GetString());
        }

        var production = _cluster.StartDelivery(new Dictionary<string, string> { ["environment"] = "Production" });
        var empty = await RefusedAsync(production, $"{target.Url}records");
        Assert.Contains("(it is empty: no outbound calls outside Development)", empty.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var listed = await oneHost.Http.GetFromJsonAsync<JsonElement>("/v1/replays");
        Assert.Empty(listed.GetProperty("replays").EnumerateArray());
        await Task.Delay(500); // several polls for jobs
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_fails_the_job_as_a_refusal()
    {
        await using var elsewhere = await ReceiverAsync();
        await using var redirecting = await OutboundTarget.StartAsync(app =>
        {
            app.MapPost("/found", () => Results.Redirect($"{elsewhere.Url}records"));
            app.MapPost("/temporary", () => Results.Redirect($"{elsewhere.Url}records", permanent: false, preserveMethod: true));
        });
        var delivery = _cluster.StartDelivery();
        foreach (var (path, status) in new[] { ("found", 302), ("temporary", 307) })
        {
            var job = await CreateAsync(delivery, $"{redirecting.Url}{path}");
            var failed = await UntilStateAsync(delivery, job, "failed");
            Assert.Equal($"POST of records/0 offset 0: refused by the target (HTTP {status}).", failed.GetProperty("error").GetString());
        }
        Assert.Equal(0, elsewhere.Requests);
    }

    [Fact]
    public async Task A_closed_port_and_a_port_that_never_answers_fail_the_job_alike()
    {
        using var silent = new SilentListener();
        var closed = LoopbackPort.Free();
        var delivery = _cluster.StartDelivery();
        var closedJob = await CreateAsync(delivery, $"http://127.0.0.1:{closed}/records");
        var silentJob = await CreateAsync(delivery, $"{silent.Url}records");
        var closedError = (await UntilStateAsync(delivery, closedJob, "failed")).GetProperty("error").GetString();
        var silentError = (await UntilStateAsync(delivery, silentJob, "failed")).GetProperty("error").GetString();
        Assert.Equal("POST of records/0 offset 0: the target did not answer.", closedError);
        Assert.Equal(closedError, silentError);
        Assert.True(silent.Accepted > 0, "the silent port was asked");
    }

    [Fact]
    public async Task A_failed_job_lets_its_lease_go_and_nothing_takes_it_again()
    {
        var delivery = _cluster.StartDelivery();
        var store = delivery.Services.GetRequiredService<IReplayStore>();
        var job = await CreateAsync(delivery, $"http://127.0.0.1:{LoopbackPort.Free()}/records");
        await UntilStateAsync(delivery, job, "failed");
        await Wait.UntilAsync(async () => !await store.IsLeasedAsync(job, CancellationToken.None), TimeSpan.FromSeconds(1),
            () => $"replay {job}'s lease to be released once it failed");
        // The job's watcher (lease renewal and progress, every 200 ms here) ends with the job, and no scan takes a
        // finished job: for three progress intervals and more, nobody holds its lease.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMilliseconds(2500))
        {
            Assert.False(await store.IsLeasedAsync(job, CancellationToken.None), $"replay {job}'s lease was taken again {clock.ElapsedMilliseconds} ms after it was released");
            await Task.Delay(25);
        }
        Assert.Equal("failed", (await delivery.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{job}")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Credentials_in_a_URL_are_refused_and_a_job_stored_with_them_is_shown_redacted_and_not_run()
    {
        await using var target = await ReceiverAsync();
        var delivery = _cluster.StartDelivery();
        var url = $"http://user:s3cr3t@127.0.0.1:{target.Port}/records";
        var problem = await RefusedAsync(delivery, url);
        Assert.Contains("credentials", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", problem.ToString(), StringComparison.Ordinal);

        // As if created before such URLs were refused.
        var job = new ReplayJob
        {
            Id = "legacy" + Guid.NewGuid().ToString("N")[..8],
            Topic = "records",
            Target = new ReplayTarget(Url: url),
            Partitions = [new ReplayPartition { Partition = 0, From = 0, To = 10, Next = 0 }],
            State = ReplayState.Pending,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        await delivery.Services.GetRequiredService<IReplayStore>().CreateAsync(job, CancellationToken.None);
        var shown = await delivery.Http.GetStringAsync($"/v1/replays/{job.Id}");
        Assert.DoesNotContain("s3cr3t", shown, StringComparison.Ordinal);
        Assert.Contains($"http://***@127.0.0.1:{target.Port}/records", shown, StringComparison.Ordinal);

        var failed = await UntilStateAsync(delivery, job.Id, "failed");
        Assert.StartsWith("Not called: the URL carries credentials", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", await delivery.Http.GetStringAsync("/v1/replays"), StringComparison.Ordinal);
        // Nor kept: the stored job lost them when it failed.
        var stored = (string?)await redis.Connection.GetDatabase().StringGetAsync($"{_prefix.TrimEnd(':')}:replay:{{{job.Id}}}");
        Assert.NotNull(stored);
        Assert.DoesNotContain("s3cr3t", stored, StringComparison.Ordinal);
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task An_allowed_target_answering_an_endless_body_gets_every_record_since_answers_are_not_read()
    {
        var chunk = new byte[64 * 1024];
        await using var target = await OutboundTarget.StartAsync(app => app.MapPost("/records", async (HttpContext context) =>
        {
            // 200, then a body that never ends: a target read to the end would never be done with.
            try
            {
                while (true)
                {
                    await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // Delivery hung up without reading it, as it should.
            }
        }));
        var delivery = _cluster.StartDelivery(new Dictionary<string, string> { ["Delivery:Outbound:AllowedHosts:0"] = $"127.0.0.1:{target.Port}" });
        var job = await CreateAsync(delivery, $"{target.Url}records");
        var done = await UntilStateAsync(delivery, job, "completed");
        Assert.Equal(10, done.GetProperty("recordsDone").GetInt64());
        Assert.Equal(10, target.Requests);
    }

    private static async Task<OutboundTarget> ReceiverAsync() =>
        await OutboundTarget.StartAsync(app => app.MapPost("/records", () => Results.Ok()));

    private static async Task<JsonElement> RefusedAsync(DeliveryNode delivery, string url)
    {
        using var response = await delivery.Http.PostAsJsonAsync("/v1/replays", new { topic = "records", target = new { url } });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty("target.url", out _), body);
        return problem;
    }

    private static async Task<string> CreateAsync(DeliveryNode delivery, string url)
    {
        using var response = await delivery.Http.PostAsJsonAsync("/v1/replays", new { topic = "records", target = new { url } });
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, job.ToString());
        return job.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> UntilStateAsync(DeliveryNode delivery, string id, string state)
    {
        JsonElement last = default;
        await Wait.UntilAsync(async () =>
        {
            last = await delivery.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}");
            var now = last.GetProperty("state").GetString();
            Assert.True(now != "failed" || state == "failed", last.ToString());
            return now == state;
        }, s_patience, () => $"replay {id} to be {state}; it is {last}");
        return last;
    }
}
