using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Delivery.Replays;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Tests.Replays;

/// <summary>
/// Replay leases fence their holders: every taking of a job's lease gets a higher epoch, and every write of the job is
/// refused in Redis for a stale one. The store is tested on the real Redis directly; the runner with real in-process
/// services, one Delivery instance reaching Redis through a relay that can hold everything back (a paused or cut-off
/// instance whose lease another instance takes meanwhile).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ReplayFencingTests(RedisFixture redis) : IAsyncLifetime
{
    private const int Records = 20_000;
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);
    private readonly string _prefix = redis.NewPrefix("replayfence");
    private BrokerCluster _cluster = null!;

    private static readonly Dictionary<string, string> s_replaySettings = new()
    {
        ["Delivery:Replay:PollIntervalMs"] = "100",
        ["Delivery:Replay:LeaseMs"] = "1000",
        ["Delivery:Replay:ProgressIntervalMs"] = "200",
    };

    public Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, _prefix, s_replaySettings);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string Prefix => _prefix.TrimEnd(':');

    private RedisReplayStore Store() => new(redis.Connection, Options.Create(new DeliveryOptions { KeyPrefix = Prefix }));

    private static ReplayJob NewJob(string id) => new()
    {
        Id = id,
        Topic = "source",
        Target = new ReplayTarget(Verify: true),
        Partitions = [new ReplayPartition { Partition = 0, From = 0, To = 100, Next = 0 }],
        State = ReplayState.Pending,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task Each_taking_of_a_lease_gets_a_higher_epoch_and_a_stale_epoch_can_neither_write_nor_renew_nor_release()
    {
        var store = Store();
        var ct = CancellationToken.None;
        var job = NewJob("epochs");
        await store.CreateAsync(job, ct);
        var lease = TimeSpan.FromMilliseconds(300);

        var first = await store.LeaseAsync(job.Id, "a", 0, lease, ct);
        Assert.True(first > 0);
        Assert.Equal(0, await store.LeaseAsync(job.Id, "b", 0, lease, ct)); // held
        job.State = ReplayState.Running;
        job.Partitions[0].Next = 40;
        Assert.Equal(ReplaySave.Saved, await store.SaveAsync(job, first, ct));

        // A's lease lapses and nobody takes it: A's renewal keeps its epoch.
        await Task.Delay(500);
        Assert.False(await store.IsLeasedAsync(job.Id, ct));
        Assert.Equal(first, await store.LeaseAsync(job.Id, "a", first, lease, ct));

        // It lapses again and B takes it: a higher epoch, and A is fenced from then on.
        await Task.Delay(500);
        var second = await store.LeaseAsync(job.Id, "b", 0, lease, ct);
        Assert.True(second > first, $"{second} > {first}");
        job.Partitions[0].Next = 10; // what a zombie would write: progress back
        Assert.Equal(ReplaySave.Fenced, await store.SaveAsync(job, first, ct));
        Assert.Equal(40, (await store.GetAsync(job.Id, ct))!.Partitions[0].Next);
        Assert.Equal(0, await store.LeaseAsync(job.Id, "a", first, lease, ct));
        await store.ReleaseAsync(job.Id, "a", first, ct);
        Assert.True(await store.IsLeasedAsync(job.Id, ct));

        // B's lease lapses; A, asking again with its old epoch, still gets nothing: lost is lost.
        await Task.Delay(500);
        Assert.Equal(0, await store.LeaseAsync(job.Id, "a", first, lease, ct));
        Assert.Equal(second, await store.LeaseAsync(job.Id, "b", second, lease, ct));

        // B completes the job; nothing changes it afterwards, not even under B's own epoch.
        job.Partitions[0].Next = 100;
        job.State = ReplayState.Completed;
        Assert.Equal(ReplaySave.Saved, await store.SaveAsync(job, second, ct));
        job.State = ReplayState.Failed;
        Assert.Equal(ReplaySave.Ended, await store.SaveAsync(job, second, ct));
        Assert.Equal(ReplayState.Completed, (await store.GetAsync(job.Id, ct))!.State);
        await store.ReleaseAsync(job.Id, "b", second, ct);
        Assert.False(await store.IsLeasedAsync(job.Id, ct));
    }

    [Fact]
    public async Task Cancelling_an_idle_job_takes_a_new_epoch_so_a_runner_whose_lease_lapsed_cannot_write_over_it()
    {
        var store = Store();
        var ct = CancellationToken.None;
        var job = NewJob("cancelled");
        await store.CreateAsync(job, ct);
        var epoch = await store.LeaseAsync(job.Id, "a", 0, TimeSpan.FromMilliseconds(200), ct);
        job.State = ReplayState.Cancelled;
        Assert.False(await store.CancelIdleAsync(job, ct)); // leased: the runner sees the cancel request instead

        await Task.Delay(400);
        Assert.True(await store.CancelIdleAsync(job, ct));
        job.State = ReplayState.Running;
        Assert.Equal(ReplaySave.Fenced, await store.SaveAsync(job, epoch, ct));
        Assert.Equal(0, await store.LeaseAsync(job.Id, "a", epoch, TimeSpan.FromMilliseconds(200), ct));
        Assert.Equal(ReplayState.Cancelled, (await store.GetAsync(job.Id, ct))!.State);
        Assert.False(await store.CancelIdleAsync(job, ct)); // ended
    }

    [Fact]
    public async Task A_job_stored_under_the_old_key_names_is_moved_to_the_hash_tagged_ones_unless_an_old_instance_holds_it()
    {
        var store = Store();
        var ct = CancellationToken.None;
        var db = redis.Connection.GetDatabase();
        var moved = NewJob("oldstyle");
        var held = NewJob("oldheld");
        foreach (var job in new[] { moved, held })
        {
            await db.StringSetAsync($"{Prefix}:replay:{job.Id}", JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob));
            await db.SortedSetAddAsync($"{Prefix}:replays", job.Id, job.CreatedAt.ToUnixTimeMilliseconds());
        }
        await db.StringSetAsync($"{Prefix}:replay:{moved.Id}:cancel", "1");
        await db.StringSetAsync($"{Prefix}:replay:{held.Id}:lease", "old-instance", TimeSpan.FromSeconds(30));

        Assert.Equal(["oldheld", "oldstyle"], (await store.ListAsync(ct)).Select(j => j.Id).Order());
        // Moved: under the new names only, its cancel request with it.
        Assert.False(await db.KeyExistsAsync($"{Prefix}:replay:{moved.Id}"));
        Assert.True(await db.KeyExistsAsync($"{Prefix}:replay:{{{moved.Id}}}"));
        Assert.True(await store.IsCancelRequestedAsync(moved.Id, ct));
        Assert.True(await store.LeaseAsync(moved.Id, "new", 0, TimeSpan.FromSeconds(1), ct) > 0);

        // Held by an instance of the previous version: read where it is, not moved, not taken.
        Assert.NotNull(await store.GetAsync(held.Id, ct));
        Assert.True(await db.KeyExistsAsync($"{Prefix}:replay:{held.Id}"));
        Assert.False(await db.KeyExistsAsync($"{Prefix}:replay:{{{held.Id}}}"));
        Assert.True(await store.IsLeasedAsync(held.Id, ct));
        Assert.Equal(0, await store.LeaseAsync(held.Id, "new", 0, TimeSpan.FromSeconds(1), ct));
    }

    [Fact]
    public async Task A_runner_cut_off_from_Redis_past_its_lease_is_fenced_when_it_comes_back_and_the_job_completes_once_from_the_new_owner()
    {
        await SeedAsync("source");
        // Instance A reaches Redis through a relay that can hold everything back; its commands wait (no client timeout)
        // and run when the relay lets them through, as those of a process paused and resumed would.
        var redisPort = int.Parse(redis.ConnectionString.Split(',')[0].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        await using var cut = TcpRelay.Start("127.0.0.1", redisPort);
        var a = _cluster.StartDelivery(new Dictionary<string, string>
        {
            ["ConnectionStrings:redis"] = $"127.0.0.1:{cut.Port},abortConnect=false,asyncTimeout=120000,syncTimeout=120000",
        });
        var logs = new CapturedLogs();
        a.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        using var lost = LeasesLost(a);

        var id = await CreateAsync(a, new { topic = "source", target = new { topic = "copy" }, rateLimit = 4_000 });
        using var watching = new CancellationTokenSource();
        var history = new ConcurrentQueue<JsonNode>();
        var watcher = WatchJobAsync(id, history, watching.Token);
        await Wait.UntilAsync(() => Done(history) >= 4_000, s_patience, () => $"A's replay a fifth of the way ({Done(history)} done)");

        cut.Pause();
        var b = _cluster.StartDelivery();
        await Wait.UntilAsync(() => State(history) == "Completed", s_patience, () => $"B to complete the job ({Done(history)} done, {State(history)})");

        // A comes back: what it sent meanwhile (a lease renewal, a progress write, in either order, as it was cut off) is
        // refused, and it stops without writing. Which refusal it meets first, it says: 44 (the renewal), 49 (a write).
        cut.Resume();
        await Wait.UntilAsync(() => Said(logs, 44, id) || Said(logs, 49, id), TimeSpan.FromSeconds(30), () => $"A told that it lost the job; A logged: {Replay(logs)}");
        await Wait.UntilAsync(() => lost.Sum > 0, TimeSpan.FromSeconds(10), () => "broker.replay.leases_lost on A");
        await Task.Delay(1_500); // more than a lease and several progress intervals: whatever A still had to say, it said
        await watching.CancelAsync();
        await watcher;

        var seen = history.ToList();
        var completed = seen.FindIndex(j => j["state"]!.GetValue<string>() == "Completed");
        Assert.All(seen.Skip(completed), j => Assert.Equal("Completed", j["state"]!.GetValue<string>()));
        Assert.Equal(Records, seen[^1]["recordsDone"]!.GetValue<long>());
        for (var i = 1; i < seen.Count; i++)
        {
            Assert.True(seen[i]["recordsDone"]!.GetValue<long>() >= seen[i - 1]["recordsDone"]!.GetValue<long>(),
                $"recordsDone went back from {seen[i - 1]["recordsDone"]} to {seen[i]["recordsDone"]}");
            foreach (var (before, after) in seen[i - 1]["partitions"]!.AsArray().Zip(seen[i]["partitions"]!.AsArray()))
            {
                Assert.True(after!["next"]!.GetValue<long>() >= before!["next"]!.GetValue<long>(), $"partition {after["partition"]}'s next went back");
            }
        }
        // Every record in the target exactly once: what A wrote before it stopped and B wrote again was recognised.
        for (var p = 0; p < 2; p++)
        {
            var source = await _cluster.ReadAllAsync("source", p);
            var copy = await _cluster.ReadAllAsync("copy", p);
            Assert.Equal(source.Select(r => r.Value.ToArray()), copy.Select(r => r.Value.ToArray()));
        }
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id is 41 or 42 or 43 && e.Message.Contains(id, StringComparison.Ordinal)); // A never ended nor paused it
        Assert.Equal(1, lost.Sum); // one run, one loss
        var viewB = await b.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}");
        Assert.Equal("completed", viewB.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_runner_cut_off_from_Redis_stops_posting_to_an_http_target_within_its_lease()
    {
        const int posted = 8_000;
        await SeedAsync("posted", posted);
        var received = new ConcurrentQueue<(string Tag, long At)>();
        var clock = Stopwatch.StartNew();
        await using var target = await OutboundTarget.StartAsync(app => app.MapPost("/records", (HttpRequest request) =>
        {
            received.Enqueue((request.Headers["Replay-Record"].ToString(), clock.ElapsedMilliseconds));
            return Results.Ok();
        }));
        var redisPort = int.Parse(redis.ConnectionString.Split(',')[0].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        await using var cut = TcpRelay.Start("127.0.0.1", redisPort);
        var a = _cluster.StartDelivery(new Dictionary<string, string>
        {
            ["ConnectionStrings:redis"] = $"127.0.0.1:{cut.Port},abortConnect=false,asyncTimeout=120000,syncTimeout=120000",
        });
        var logs = new CapturedLogs();
        a.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        var id = await CreateAsync(a, new { topic = "posted", target = new { url = $"http://127.0.0.1:{target.Port}/records" }, rateLimit = 1_000 });
        await Wait.UntilAsync(() => received.Count >= 1_500, s_patience, () => $"A's replay under way ({received.Count} posted)");

        // Cut off, A's lease can no longer be renewed: it stops posting once the lease is not surely its own (1 s at most).
        cut.Pause();
        var pausedAt = clock.ElapsedMilliseconds;
        await Task.Delay(2_500);
        var byA = received.Count(r => r.At > pausedAt + 1_000);
        Assert.True(byA == 0, $"{byA} records posted more than a lease after A was cut off");

        var b = _cluster.StartDelivery();
        await Wait.UntilAsync(async () => (await b.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}")).GetProperty("state").GetString() == "completed",
            s_patience, () => "B to complete the job");
        cut.Resume();
        await Wait.UntilAsync(() => Said(logs, 44, id) || Said(logs, 49, id), TimeSpan.FromSeconds(30), () => "A told that it lost the job");
        var afterResume = received.Count;
        await Task.Delay(1_000);
        Assert.Equal(afterResume, received.Count); // A posts nothing once back

        // Every record at least once; repeats only from A's last progress write to where it stopped: about a lease's worth.
        var tags = received.Select(r => r.Tag).ToList();
        Assert.Equal(posted, tags.Distinct().Count());
        Assert.InRange(tags.Count - posted, 0, 2_000);
        Assert.Equal("completed", (await b.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}")).GetProperty("state").GetString());
    }

    private async Task SeedAsync(string topic, int count = Records)
    {
        await _cluster.CreateTopicAsync(topic, 2);
        var records = Enumerable.Range(0, count).Select(i => ((string?)$"k{i % 100}", $"\"r{i}\"")).ToList();
        for (var start = 0; start < count; start += 250)
        {
            // Small sends, so the source holds many small batches (a replay's unit of progress).
            await _cluster.ProduceAsync(topic, records.Skip(start).Take(250).ToList());
        }
    }

    private static async Task<string> CreateAsync(DeliveryNode node, object body)
    {
        using var response = await node.Http.PostAsJsonAsync("/v1/replays", body);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, job.ToString());
        return job.GetProperty("id").GetString()!;
    }

    /// <summary>Reads the stored job every few milliseconds straight from Redis (not through the relay), keeping each change.</summary>
    private async Task WatchJobAsync(string id, ConcurrentQueue<JsonNode> history, CancellationToken cancellationToken)
    {
        var db = redis.Connection.GetDatabase();
        string? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var json = (string?)await db.StringGetAsync($"{Prefix}:replay:{{{id}}}");
            if (json is not null && json != last)
            {
                history.Enqueue(JsonNode.Parse(json)!);
                last = json;
            }
            try
            {
                await Task.Delay(5, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static long Done(ConcurrentQueue<JsonNode> history) => history.LastOrDefault()?["recordsDone"]?.GetValue<long>() ?? 0;

    private static string? State(ConcurrentQueue<JsonNode> history) => history.LastOrDefault()?["state"]?.GetValue<string>();

    private static string Replay(CapturedLogs logs) =>
        string.Join(" | ", logs.Entries.Where(e => e.Category.Contains("Replay", StringComparison.Ordinal)).Select(e => $"{e.EventId.Id}: {e.Message}"));

    private static bool Said(CapturedLogs logs, int eventId, string jobId) =>
        logs.Entries.Any(e => e.EventId.Id == eventId && e.Message.Contains(jobId, StringComparison.Ordinal));

    /// <summary>Sums broker.replay.leases_lost of one Delivery instance (its own meter factory).</summary>
    private static LeaseLossCounter LeasesLost(DeliveryNode node) => new(node.Services.GetRequiredService<IMeterFactory>());

    private sealed class LeaseLossCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _sum;

        public LeaseLossCounter(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "broker.replay.leases_lost" && instrument.Meter.Scope == factory)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _sum, value));
            _listener.Start();
        }

        public long Sum => Interlocked.Read(ref _sum);

        public void Dispose() => _listener.Dispose();
    }
}
