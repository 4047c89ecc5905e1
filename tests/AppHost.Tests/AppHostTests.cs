using System.Text.Json;

namespace AppHost.Tests;

/// <summary>The first-run experience: AppHost brings the broker up, brokerctl drives it, Ctrl+C leaves nothing behind.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task AppHost_runs_the_broker_brokerctl_drives_it_and_SIGINT_stops_every_child()
    {
        var sockets = Path.Combine(Path.GetTempPath(), "apphost-sockets-" + Guid.NewGuid().ToString("N")[..8]);
        await using var host = await AppHostProcess.StartAsync(null, new Dictionary<string, string> { ["DAPR_COMPONENTS_SOCKETS_FOLDER"] = sockets },
            "--AppHost:DaprComponent=true", $"--AppHost:Ports:daprcomponent:Http={Broker.Testing.LoopbackPort.Free()}");
        Assert.Contains("Redis: ", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Redis: none", host.Output, StringComparison.Ordinal);
        Assert.Equal(6, host.AllChildPids.Count()); // redis, registry, storage, ingest, delivery, the Dapr component host
        Assert.True(File.Exists(Path.Combine(sockets, "broker.sock")), host.Output);

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
        var status = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "replay", "status", replay.GetProperty("id").GetString()!, "--json")).RootElement;
        Assert.Equal("completed", status.GetProperty("state").GetString());
        var copied = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "topics", "describe", "orders-copy", "--json")).RootElement;
        Assert.Equal(4, copied.GetProperty("partitionOffsets").EnumerateArray().Sum(p => p.GetProperty("endOffset").GetInt64()));

        Assert.Equal(0, await host.InterruptAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("AppHost: everything stopped.", host.Output, StringComparison.Ordinal);
        Assert.All(host.AllChildPids, pid => Assert.False(AppHostProcess.IsAlive(pid), $"pid {pid} outlived AppHost:\n{host.Output}"));
        Directory.Delete(sockets, recursive: true);
    }

    [Fact]
    public async Task Without_redis_server_on_PATH_the_stand_ins_still_serve_a_round_trip()
    {
        // Only dotnet's own folder: no redis-server to be found.
        var dotnetFolder = Path.GetDirectoryName(AppHostProcess.DotnetPath()) is { Length: > 0 } folder ? folder : "/usr/bin";
        await using var host = await AppHostProcess.StartAsync(path: dotnetFolder);
        Assert.Contains("Redis: none (no redis-server on PATH)", host.Output, StringComparison.Ordinal);
        Assert.Empty(host.PidsOf("redis"));

        await RoundTripAsync(host, "standin");
        Assert.Equal(0, await host.InterruptAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_service_killed_with_SIGKILL_is_restarted_and_serves_again()
    {
        await using var host = await AppHostProcess.StartAsync();
        var first = host.PidsOf("ingest").Single();
        System.Diagnostics.Process.GetProcessById(first).Kill();

        await host.WaitForAsync("ingest exited with code", 1, TimeSpan.FromSeconds(30));
        await host.WaitForAsync("ingest is healthy", 2, TimeSpan.FromSeconds(60));
        Assert.NotEqual(first, host.PidsOf("ingest")[^1]);
        await RoundTripAsync(host, "after-restart");
        Assert.Equal(0, await host.InterruptAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Brokerctl_says_what_went_wrong_with_a_non_zero_exit_code_and_benches_and_reads_files()
    {
        await using var host = await AppHostProcess.StartAsync();
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
        Assert.Equal(0, await host.InterruptAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>topics create, produce (arguments and stdin), consume --json, groups describe: what a newcomer's first minutes do.</summary>
    private static async Task RoundTripAsync(AppHostProcess host, string topic)
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
