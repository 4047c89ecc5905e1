using System.Net.Http.Json;
using System.Text.Json;

namespace AppHost.Tests;

/// <summary>The real AppHost through Aspire's testing builder: every resource healthy, brokerctl drives the broker, replicas survive a kill, nothing outlives the app.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task Every_resource_is_healthy_brokerctl_drives_the_broker_and_stopping_the_app_leaves_no_process()
    {
        var sockets = Path.Combine(Path.GetTempPath(), "apphost-sockets-" + Guid.NewGuid().ToString("N")[..8]);
        await using var host = await BrokerApp.StartAsync(["--AppHost:DaprComponent=true"],
            new Dictionary<string, string> { ["DAPR_COMPONENTS_SOCKETS_FOLDER"] = sockets });
        foreach (var resource in new[] { "redis", "storage", "ingest", "delivery", "schemaregistry", "daprcomponent" })
        {
            using var healthy = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await host.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, healthy.Token);
            Assert.NotEmpty(host.PidsOf(resource));
        }
        Assert.Contains(await host.LogsOfAsync("broker", TimeSpan.FromSeconds(2)), l => l.Contains("Redis: /", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(sockets, "broker.sock")), await host.StatesAsync());

        await RoundTripAsync(host, "orders");

        // Schemas and replays, as the tour does them.
        const string order = """{"type":"record","name":"Order","fields":[{"name":"id","type":"int"}]}""";
        Assert.Contains("schema id", await Brokerctl.SucceedAsync(host, null, "schemas", "register", "orders-value", order), StringComparison.Ordinal);
        Assert.Contains("orders-value", await Brokerctl.SucceedAsync(host, null, "schemas", "list"), StringComparison.Ordinal);
        var incompatible = await Brokerctl.RunAsync(host, null, "schemas", "check", "orders-value",
            """{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}""");
        Assert.Equal(1, incompatible.ExitCode);
        Assert.Contains("Not compatible", incompatible.Output, StringComparison.Ordinal);
        var replay = (await Brokerctl.SucceedAsync(host, null, "replay", "start", "orders", "--to-topic", "orders-copy", "--from-offset", "0", "--watch", "--json"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).Last();
        Assert.Equal("completed", replay.GetProperty("state").GetString());
        Assert.Equal(4, replay.GetProperty("recordsDone").GetInt64());
        var copied = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "topics", "describe", "orders-copy", "--json")).RootElement;
        Assert.Equal(4, copied.GetProperty("partitionOffsets").EnumerateArray().Sum(p => p.GetProperty("endOffset").GetInt64()));

        await host.StopAsync();
        Assert.Empty(await host.SurvivorsAsync(TimeSpan.FromSeconds(30)));
        Directory.Delete(sockets, recursive: true);
    }

    [Fact]
    public async Task Without_Redis_the_stand_ins_serve_a_round_trip_and_the_broker_resource_says_so()
    {
        await using var host = await BrokerApp.StartAsync(["--AppHost:Redis:Mode=none"]);
        Assert.Empty(host.PidsOf("redis"));
        Assert.Contains(await host.LogsOfAsync("broker", TimeSpan.FromSeconds(2)), l => l.Contains("Redis: none", StringComparison.Ordinal));
        await RoundTripAsync(host, "standin");
    }

    [Fact]
    public async Task With_S3_Local_the_segments_go_to_s3rver_run_as_a_resource()
    {
        await using var host = await BrokerApp.StartAsync(["--AppHost:S3:Bucket=segments", "--AppHost:S3:Local=true"]);
        Assert.NotEmpty(host.PidsOf("s3"));
        Assert.Contains(await host.LogsOfAsync("broker", TimeSpan.FromSeconds(2)), l => l.Contains("S3 bucket segments in s3rver", StringComparison.Ordinal));
        await RoundTripAsync(host, "in-s3");

        // A hot budget of 1 KiB: older batches move to segments, which Storage writes into s3rver's bucket.
        using var storage = new HttpClient { BaseAddress = host.Http("storage") };
        using var ingest = new HttpClient { BaseAddress = host.Http("ingest") };
        (await storage.PutAsJsonAsync("/v1/topics/tiered", new { partitions = 1, hotBytes = 1024 })).EnsureSuccessStatusCode();
        for (var i = 0; i < 20; i++)
        {
            var records = Enumerable.Range(0, 10).Select(n => new { value = new string('x', 200) + $"{i}-{n}" }).ToArray();
            // 429 is Storage's backpressure while the hot tier is past its budget: a producer waits and sends again.
            var patience = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                using var produced = await ingest.PostAsJsonAsync("/v1/topics/tiered/records", new { records });
                if (produced.StatusCode != System.Net.HttpStatusCode.TooManyRequests)
                {
                    produced.EnsureSuccessStatusCode();
                    break;
                }
                Assert.True(patience.Elapsed < TimeSpan.FromSeconds(60), "Storage kept refusing with 429: nothing moved to the cold tier");
                await Task.Delay(produced.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(250));
            }
        }
        var bucket = Path.Combine(host.DataDirectory, "s3", "segments");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long cold = 0;
        while (cold == 0 || !Directory.EnumerateFiles(bucket, "*", SearchOption.AllDirectories).Any())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"no segment reached s3rver's bucket {bucket} (coldBytes {cold})");
            await Task.Delay(500);
            var topic = await storage.GetFromJsonAsync<JsonElement>("/v1/topics/tiered");
            cold = topic.GetProperty("partitionOffsets").EnumerateArray().Sum(p => p.GetProperty("coldBytes").GetInt64());
        }
    }

    [Fact]
    public async Task With_two_replicas_killing_an_Ingest_replica_loses_no_acknowledged_record()
    {
        await using var host = await BrokerApp.StartAsync(["--AppHost:Replicas=2"]);
        Assert.Equal(2, host.PidsOf("ingest").Count);
        await Brokerctl.SucceedAsync(host, null, "topics", "create", "replicated", "--partitions", "2");

        using var ingest = new HttpClient { BaseAddress = host.Http("ingest"), Timeout = TimeSpan.FromSeconds(10) };
        var acknowledged = new List<string>();
        var victim = host.PidsOf("ingest")[0];
        for (var i = 0; i < 200; i++)
        {
            if (i == 50)
            {
                host.CaptureDescendants();
                // The replica's own process (a project runs as `dotnet run` and the app it starts): both go.
                foreach (var pid in host.DescendantsOf(victim).Append(victim))
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                }
            }
            var value = $"record-{i}";
            try
            {
                using var produced = await ingest.PostAsJsonAsync("/v1/topics/replicated/records", new { records = new[] { new { value } } });
                if (produced.IsSuccessStatusCode)
                {
                    acknowledged.Add(value);
                }
            }
            catch (HttpRequestException)
            {
                // Not acknowledged: the producer would retry it.
            }
        }
        Assert.True(acknowledged.Count >= 150, $"only {acknowledged.Count} of 200 produces were acknowledged with one replica left");

        var consumed = (await Brokerctl.SucceedAsync(host, null, "consume", "replicated", "--group", "after-kill", "--json", "--max", "1000"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("value").GetString()).ToHashSet();
        Assert.DoesNotContain(acknowledged, v => !consumed.Contains(v));
    }

    [Fact]
    public async Task Brokerctl_says_what_went_wrong_with_a_non_zero_exit_code_and_benches_and_reads_files()
    {
        await using var host = await BrokerApp.StartAsync();
        var missing = await Brokerctl.RunAsync(host, null, "topics", "describe", "no-such-topic");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no-such-topic", missing.Error, StringComparison.Ordinal);

        var bad = await Brokerctl.RunAsync(host, null, "topics", "create", "bad:name");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("bad:name", bad.Error, StringComparison.Ordinal);

        var nothing = await Brokerctl.RunAsync(host, "", "produce", "orders");
        Assert.Equal(2, nothing.ExitCode);

        var bench = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "bench", "--records", "2000", "--json")).RootElement;
        Assert.True(bench.GetProperty("verified").GetBoolean());
        Assert.True(bench.GetProperty("recordsPerSecond").GetDouble() > 0);

        var file = Path.GetTempFileName();
        await File.WriteAllLinesAsync(file, ["one", "two", "three"]);
        await Brokerctl.SucceedAsync(host, null, "topics", "create", "from-file");
        Assert.Contains("partition", await Brokerctl.SucceedAsync(host, null, "produce", "from-file", "--file", file), StringComparison.Ordinal);
        File.Delete(file);

        var unreachable = await Brokerctl.RunAsync(host, null, "topics", "list", "--storage", "http://127.0.0.1:1");
        Assert.Equal(3, unreachable.ExitCode);
        Assert.Contains("Cannot reach Storage", unreachable.Error, StringComparison.Ordinal);
    }

    /// <summary>topics create, produce (arguments and stdin), consume --json, groups describe: what a newcomer's first minutes do.</summary>
    private static async Task RoundTripAsync(BrokerApp host, string topic)
    {
        await Brokerctl.SucceedAsync(host, null, "topics", "create", topic, "--partitions", "2");
        var listed = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "topics", "list", "--json"));
        Assert.Contains(topic, listed.RootElement.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()));

        await Brokerctl.SucceedAsync(host, null, "produce", topic, "{\"id\":1}", "{\"id\":2}", "--key", "customer-7", "--header", "source=test");
        await Brokerctl.SucceedAsync(host, "plain text\n{\"id\":3}\n", "produce", topic);

        var consumed = await Brokerctl.SucceedAsync(host, null, "consume", topic, "--group", "first-run", "--json");
        var records = consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, records.Count);
        var values = records.Select(r => r.GetProperty("value")).Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()).ToList();
        Assert.Contains("{\"id\":1}", values);
        Assert.Contains("{\"id\":3}", values);
        Assert.Contains("plain text", values);
        Assert.All(records.Where(r => r.GetProperty("key").GetString() == "customer-7"), r => Assert.Equal("test", r.GetProperty("headers").GetProperty("source").GetString()));

        // Acked: the group has nothing left, and a second consume gets nothing.
        var group = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "groups", "describe", "first-run", "--json"));
        Assert.Equal(0, group.RootElement.GetProperty("topics").EnumerateArray().Single().GetProperty("lag").GetInt64());
        Assert.Empty((await Brokerctl.SucceedAsync(host, null, "consume", topic, "--group", "first-run", "--json", "--wait-ms", "500")).Trim());
    }
}
