extern alias storage;

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Contracts.Storage;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Delivery.Tests.Replays;

/// <summary>
/// Replay jobs over tiered history: Storage on real Redis with its segments in a real S3-compatible server,
/// Ingest and Delivery hosted for real. The source topic is produced through Ingest and tiered until most of
/// it lives in S3.
/// </summary>
[Collection(TieringCollection.Name)]
public sealed class ReplayTests(RedisFixture redis, S3Fixture s3) : IAsyncLifetime
{
    private const int Records = 100_000;
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(90);
    private readonly string _prefix = redis.NewPrefix("replay");
    private BrokerCluster _cluster = null!;
    private DeliveryNode _delivery = null!;

    private static readonly Dictionary<string, string> s_replaySettings = new()
    {
        ["Delivery:Replay:PollIntervalMs"] = "100",
        ["Delivery:Replay:LeaseMs"] = "2000",
        ["Delivery:Replay:ProgressIntervalMs"] = "200",
        ["Delivery:MaxPollWaitMs"] = "500",
        ["Delivery:HttpSessionTimeoutMs"] = "1500",
    };

    public async Task InitializeAsync()
    {
        var storage = s3.StorageSettings(_prefix.TrimEnd(':'));
        storage["Storage:Tiering:IntervalMs"] = "3600000";
        storage["Storage:Tiering:SegmentBytes"] = (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        storage["Storage:Tiering:HardLimitFactor"] = "1000";
        _cluster = BrokerCluster.Start(redis.ConnectionString, _prefix, s_replaySettings, storage);
        _delivery = _cluster.StartDelivery();
        await Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Replaying_tiered_history_into_a_new_topic_copies_every_record_exactly_and_ranges_by_offset_and_time_resolve_over_both_tiers()
    {
        await SeedAsync("source", Records);
        var source = await _cluster.Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = "source" });
        Assert.True(source.Partitions.Sum(p => p.ColdBytes) > 2 * source.Partitions.Sum(p => p.HotBytes), source.ToString());

        var job = await CreateAsync(new { topic = "source", target = new { topic = "copy" } });
        Assert.Equal(Records, job.GetProperty("recordsTotal").GetInt64());
        var done = await UntilStateAsync(job.GetProperty("id").GetString()!, "completed");
        Assert.Equal(Records, done.GetProperty("recordsDone").GetInt64());
        Assert.Equal(100, done.GetProperty("percent").GetDouble());
        Assert.True(done.GetProperty("bytesDone").GetInt64() > Records * 80);
        for (var p = 0; p < 2; p++)
        {
            AssertSameRecords(await _cluster.ReadAllAsync("source", p), await _cluster.ReadAllAsync("copy", p));
        }

        // Verify reads the whole range back and checks every record, delivering nothing.
        var verify = await CreateAsync(new { topic = "source", target = new { verify = true } });
        var verified = await UntilStateAsync(verify.GetProperty("id").GetString()!, "completed");
        Assert.Equal(Records, verified.GetProperty("recordsDone").GetInt64());
        Assert.Equal(done.GetProperty("bytesDone").GetInt64(), verified.GetProperty("bytesDone").GetInt64());

        // A range by offsets on one partition: [10000, 20000).
        var slice = await CreateAsync(new { topic = "source", partitions = new[] { 1 }, start = new { offset = 10_000 }, end = new { offset = 20_000 }, target = new { topic = "slice" } });
        await UntilStateAsync(slice.GetProperty("id").GetString()!, "completed");
        AssertSameRecords((await _cluster.ReadAllAsync("source", 1)).Skip(10_000).Take(10_000).ToList(), await _cluster.ReadAllAsync("slice", 1));
        Assert.Empty(await _cluster.ReadAllAsync("slice", 0));

        // By time: the start is the first record stamped at or after the time, found in the segments.
        var all = await _cluster.ReadAllAsync("source", 0);
        var from = all[12_345].Timestamp;
        var expectedStart = all.FindIndex(r => r.Timestamp >= from);
        var timed = await CreateAsync(new { topic = "source", partitions = new[] { 0 }, start = new { timestamp = from }, target = new { topic = "timed" } });
        Assert.Equal(expectedStart, timed.GetProperty("partitions")[0].GetProperty("from").GetInt64());
        await UntilStateAsync(timed.GetProperty("id").GetString()!, "completed");
        Assert.Equal(all.Count - expectedStart, (await _cluster.ReadAllAsync("timed", 0)).Count);
    }

    [Fact]
    public async Task A_cancelled_replay_stops_and_writes_nothing_more()
    {
        await SeedAsync("source", Records);
        var job = await CreateAsync(new { topic = "source", target = new { topic = "halted" }, rateLimit = 5_000 });
        var id = job.GetProperty("id").GetString()!;
        await Wait.UntilAsync(async () => (await GetAsync(id)).GetProperty("recordsDone").GetInt64() > 0, s_patience, () => "the replay to start");

        using var cancel = await _delivery.Http.DeleteAsync($"/v1/replays/{id}");
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.True((await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("cancelRequested").GetBoolean());
        var cancelled = await UntilStateAsync(id, "cancelled");
        var done = cancelled.GetProperty("recordsDone").GetInt64();
        Assert.InRange(done, 1, Records - 1);
        var written = await CountAsync("halted");
        await Task.Delay(1000);
        Assert.Equal(written, await CountAsync("halted"));
        // What was written is what the job counts, give or take the batch under way when it stopped.
        Assert.InRange(written, done, done + 2_000);

        using var again = await _delivery.Http.DeleteAsync($"/v1/replays/{id}");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task A_replay_survives_a_delivery_restart_and_a_lost_progress_write_and_still_writes_each_record_once()
    {
        await SeedAsync("source", Records);
        var job = await CreateAsync(new { topic = "source", target = new { topic = "resumed" }, rateLimit = 20_000 });
        var id = job.GetProperty("id").GetString()!;
        await Wait.UntilAsync(async () => (await GetAsync(id)).GetProperty("recordsDone").GetInt64() >= 20_000, s_patience, () => "a fifth of the replay");
        await _cluster.StopDeliveryAsync(_delivery);

        // As if the instance had died after writing batches whose progress it never recorded: put each
        // partition's progress back two source batches (the target already holds them).
        var key = $"{_prefix.TrimEnd(':')}:replay:{{{id}}}";
        var stored = JsonNode.Parse((string)(await redis.Connection.GetDatabase().StringGetAsync(key))!)!;
        Assert.Equal("Running", stored["state"]!.GetValue<string>());
        foreach (var partition in stored["partitions"]!.AsArray())
        {
            var p = partition!["partition"]!.GetValue<int>();
            var next = partition["next"]!.GetValue<long>();
            var from = partition["from"]!.GetValue<long>();
            partition["next"] = await BatchStartBeforeAsync("source", p, next, batchesBack: 2, floor: from);
        }
        await redis.Connection.GetDatabase().StringSetAsync(key, stored.ToJsonString());

        _delivery = _cluster.StartDelivery();
        var done = await UntilStateAsync(id, "completed");
        Assert.Equal(Records, done.GetProperty("recordsDone").GetInt64());
        for (var p = 0; p < 2; p++)
        {
            AssertSameRecords(await _cluster.ReadAllAsync("source", p), await _cluster.ReadAllAsync("resumed", p));
        }
    }

    [Fact]
    public async Task A_group_is_rewound_once_it_has_no_live_consumers_and_then_consumes_the_range_again()
    {
        await SeedAsync("small", 1_000);
        var acked = await ConsumeAllAsync("rewound", "small", "c1");
        Assert.Equal(1_000, acked);

        // While its consumer's session lasts, the group is live: refused.
        using (var live = await _delivery.Http.PostAsJsonAsync("/v1/replays", new { topic = "small", target = new { group = "rewound" } }))
        {
            Assert.Equal(HttpStatusCode.Conflict, live.StatusCode);
        }
        await Wait.UntilAsync(async () => (await DescribeGroupAsync("rewound")).GetProperty("topics")[0].GetProperty("members").GetArrayLength() == 0,
            s_patience, () => "the HTTP consumer's session to end");

        var rewind = await CreateAsync(new { topic = "small", start = new { offset = 100 }, target = new { group = "rewound" } });
        await UntilStateAsync(rewind.GetProperty("id").GetString()!, "completed");
        var partitions = (await DescribeGroupAsync("rewound")).GetProperty("topics")[0].GetProperty("partitions").EnumerateArray().ToList();
        Assert.All(partitions, p => Assert.Equal(100, p.GetProperty("committedOffset").GetInt64()));
        // 100 records short of everything, per partition.
        Assert.Equal(1_000 - (100 * partitions.Count), await ConsumeAllAsync("rewound", "small", "c2"));
    }

    [Fact]
    public async Task An_http_target_gets_every_record_posted_once_in_offset_order_per_partition()
    {
        await SeedAsync("posted", 1_000);
        var received = new ConcurrentQueue<(string Tag, JsonElement Body)>();
        var port = LoopbackPort.Free();
        await using var app = await ReceiverAsync(received, port);
        var url = $"http://127.0.0.1:{port}/records";
        var job = await CreateAsync(new { topic = "posted", target = new { url } });
        await UntilStateAsync(job.GetProperty("id").GetString()!, "completed");
        Assert.Equal(1_000, received.Count);
        Assert.Equal(1_000, received.Select(r => r.Tag).Distinct().Count());
        foreach (var partition in received.GroupBy(r => r.Body.GetProperty("partition").GetInt32()))
        {
            var offsets = partition.Select(r => r.Body.GetProperty("offset").GetInt64()).ToList();
            Assert.Equal(offsets.Order(), offsets);
            var source = await _cluster.ReadAllAsync("posted", partition.Key);
            Assert.Equal(source.Select(r => Encoding.UTF8.GetString(r.Value.Span)), partition.Select(r => r.Body.GetProperty("value").GetRawText()));
        }
    }

    [Fact]
    public async Task Bad_replays_are_refused_with_the_reason()
    {
        await SeedAsync("source", 100);
        await AssertRefusedAsync(new { topic = "source", start = new { offset = 500 }, end = new { offset = 100 }, target = new { topic = "x" } }, 400, "end");
        await AssertRefusedAsync(new { topic = "source", start = new { timestamp = 2_000 }, end = new { timestamp = 1_000 }, target = new { topic = "x" } }, 400, "end");
        await AssertRefusedAsync(new { topic = "no-such-topic", target = new { topic = "x" } }, 404, null);
        await AssertRefusedAsync(new { topic = "source", target = new { group = "never-consumed" } }, 404, null);
        await AssertRefusedAsync(new { topic = "source" }, 400, "target");
        await AssertRefusedAsync(new { topic = "source", target = new { verify = false } }, 400, "target");
        await AssertRefusedAsync(new { topic = "source", target = new { topic = "x", url = "http://localhost/" } }, 400, "target");
        await AssertRefusedAsync(new { topic = "source", target = new { url = "ftp://elsewhere/" } }, 400, "target.url");
        await AssertRefusedAsync(new { topic = "source", target = new { topic = "source" } }, 400, "target.topic");
        await AssertRefusedAsync(new { topic = "source", partitions = new[] { 7 }, target = new { topic = "x" } }, 400, "partitions");
        await AssertRefusedAsync(new { topic = "source", rateLimit = 0, target = new { topic = "x" } }, 400, "rateLimit");
        await AssertRefusedAsync(new { topic = "source", start = new { offset = 1, timestamp = 1 }, target = new { topic = "x" } }, 400, "start");
        using var missing = await _delivery.Http.GetAsync("/v1/replays/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var cancelMissing = await _delivery.Http.DeleteAsync("/v1/replays/nope");
        Assert.Equal(HttpStatusCode.NotFound, cancelMissing.StatusCode);
    }

    private async Task AssertRefusedAsync(object body, int status, string? field)
    {
        using var response = await _delivery.Http.PostAsJsonAsync("/v1/replays", body);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True((int)response.StatusCode == status, $"{JsonSerializer.Serialize(body)} gave {(int)response.StatusCode}: {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty(problem.TryGetProperty("detail", out _) ? "detail" : "title").GetString()));
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
    }

    /// <summary>A topic of two partitions with a small hot budget, produced through Ingest and tiered until most of it is in S3.</summary>
    private async Task SeedAsync(string topic, int count)
    {
        await _cluster.CreateTopicAsync(topic, 2, new { hotBytes = 256 * 1024 });
        var records = Enumerable.Range(0, count).Select(i => ((string?)$"k{i % 100}", $"\"r{i}-{new string('v', 80)}\"")).ToList();
        for (var start = 0; start < count; start += 10_000)
        {
            await _cluster.ProduceAsync(topic, records.Skip(start).Take(10_000).ToList(), headers: [("origin", "seed")]);
        }
        var tiering = _cluster.StorageServices.GetRequiredService<storage::Broker.Storage.Tiering.TieringService>();
        while (await tiering.RunOnceAsync(CancellationToken.None) > 0)
        {
        }
    }

    private async Task<JsonElement> CreateAsync(object body)
    {
        using var response = await _delivery.Http.PostAsJsonAsync("/v1/replays", body);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, job.ToString());
        Assert.Equal($"/v1/replays/{job.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        return job;
    }

    private async Task<JsonElement> GetAsync(string id) => await _delivery.Http.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}");

    private async Task<JsonElement> UntilStateAsync(string id, string state)
    {
        JsonElement last = default;
        await Wait.UntilAsync(async () =>
        {
            last = await GetAsync(id);
            var now = last.GetProperty("state").GetString();
            Assert.True(now != "failed" || state == "failed", last.ToString());
            return now == state;
        }, s_patience, () => $"replay {id} to be {state}; it is {last}");
        return last;
    }

    private async Task<long> CountAsync(string topic)
    {
        var described = await _cluster.Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic });
        return described.Partitions.Sum(p => p.EndOffset);
    }

    private static void AssertSameRecords(List<Broker.Contracts.Batches.Record> expected, List<Broker.Contracts.Batches.Record> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.True(e.Value.Span.SequenceEqual(a.Value.Span), $"record {i}: value differs");
            Assert.True(e.Key!.Value.Span.SequenceEqual(a.Key!.Value.Span), $"record {i}: key differs");
            Assert.Equal(e.Timestamp, a.Timestamp);
            Assert.Equal(e.Headers.Select(h => (h.Name, Encoding.UTF8.GetString(h.Value.Span))), a.Headers.Select(h => (h.Name, Encoding.UTF8.GetString(h.Value.Span))));
        }
    }

    /// <summary>The base offset of the source batch <paramref name="batchesBack"/> batches before the one starting at <paramref name="next"/>.</summary>
    private async Task<long> BatchStartBeforeAsync(string topic, int partition, long next, int batchesBack, long floor)
    {
        var starts = new List<long>();
        var offset = Math.Max(floor, next - 10_000);
        while (offset < next)
        {
            var response = await _cluster.Storage.ReadAsync(new ReadRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = 1 << 20 });
            foreach (var bytes in response.Batches)
            {
                var batch = Broker.Contracts.Batches.RecordBatch.Parse(bytes.Memory);
                if (batch.BaseOffset < next)
                {
                    starts.Add(batch.BaseOffset);
                }
            }
            offset = response.NextOffset;
        }
        return starts.Count > batchesBack ? starts[^(batchesBack + 1)] : floor;
    }

    /// <summary>Polls and acks over HTTP until the group has everything; answers how many records it acked.</summary>
    private async Task<int> ConsumeAllAsync(string group, string topic, string consumer)
    {
        var total = 0;
        while (true)
        {
            using var poll = await _delivery.Http.PostAsJsonAsync($"/v1/groups/{group}/topics/{topic}/poll",
                new { maxRecords = 500, waitMs = 500, start = "earliest", consumerId = consumer });
            poll.EnsureSuccessStatusCode();
            var records = (await poll.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray().ToList();
            if (records.Count == 0)
            {
                return total;
            }
            using var acks = await _delivery.Http.PostAsJsonAsync($"/v1/groups/{group}/topics/{topic}/acks",
                new { ack = records.Select(r => r.GetProperty("deliveryId").GetString()).ToArray() });
            acks.EnsureSuccessStatusCode();
            total += records.Count;
        }
    }

    private async Task<JsonElement> DescribeGroupAsync(string group) => await _delivery.Http.GetFromJsonAsync<JsonElement>($"/v1/groups/{group}");

    /// <summary>A real HTTP server on a loopback port that keeps every POSTed record and its Replay-Record header.</summary>
    private static async Task<WebApplication> ReceiverAsync(ConcurrentQueue<(string Tag, JsonElement Body)> received, int port)
    {
        // Its own content root and no configuration files: the test folder holds Delivery's appsettings.json, whose Kestrel endpoints are not this server's.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.Sources.Clear();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapPost("/records", async (HttpRequest request) =>
        {
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body);
            received.Enqueue((request.Headers["Replay-Record"].ToString(), body));
            return Results.Ok();
        });
        await app.StartAsync();
        return app;
    }

}
