using System.Globalization;
using Broker.Contracts.Storage;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Storage.Tiering;
using Broker.Testing;
using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Broker.Storage.Tests.Tiering;

/// <summary>
/// What tiering costs Redis when nothing has to move. Each test runs its own redis-server, so the server's own
/// counters (INFO commandstats, which counts the commands scripts run too) see this test's Storage and nothing else.
/// </summary>
[Collection(TieringCollection.Name)]
public sealed class TieringWorkTests(S3Fixture s3, ITestOutputHelper output) : IAsyncLifetime
{
    private static CallOptions Timeout => new(deadline: DateTime.UtcNow.AddMinutes(2));
    private readonly string _prefix = "work";
    private RedisServerProcess _redis = null!;
    private ConnectionMultiplexer _admin = null!;
    private readonly List<StorageHost> _hosts = [];

    public async Task InitializeAsync()
    {
        _redis = await RedisServerProcess.StartAsync(CancellationToken.None);
        _admin = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        await _admin.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private StorageHost Start(Dictionary<string, string>? extra = null)
    {
        var settings = s3.StorageSettings("work-" + Guid.NewGuid().ToString("N")[..8]);
        settings["Storage:Tiering:IntervalMs"] = "3600000";
        settings["Storage:RetentionCheckIntervalSeconds"] = "86400";
        settings["Storage:MaxPartitions"] = "5000";
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        var host = StorageHost.Start(_redis.ConnectionString, _prefix, settings);
        _hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task An_idle_tiering_pass_over_two_thousand_partitions_issues_a_constant_number_of_redis_commands()
    {
        var host = Start();
        for (var t = 0; t < 20; t++)
        {
            await host.CreateTopicAsync($"idle-{t}", new { partitions = 100 });
        }
        // Some partitions hold a little data (well under their hot budget), most hold none.
        for (var t = 0; t < 20; t++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = $"idle-{t}", Partition = t, Batch = Batch("small") }, Timeout);
        }
        var tiering = host.Services.GetRequiredService<TieringService>();
        await tiering.RunOnceAsync(CancellationToken.None); // the first pass after start-up also sweeps every partition once

        const int passes = 5;
        var calls = await CommandsDuringAsync(async () =>
        {
            for (var i = 0; i < passes; i++)
            {
                Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None));
            }
        });

        output.WriteLine($"{passes} idle tiering passes over 2000 partitions: {calls.Values.Sum()} Redis commands ({Describe(calls)})");
        Assert.True(calls.Values.Sum() <= passes * 2, $"{passes} idle passes issued {calls.Values.Sum()} Redis commands: {Describe(calls)}");
    }

    [Fact]
    public async Task Among_two_thousand_idle_partitions_the_one_that_receives_data_is_tiered_at_a_cost_that_follows_it()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentBytes"] = "65536" });
        for (var t = 0; t < 20; t++)
        {
            await host.CreateTopicAsync($"idle-{t}", new { partitions = 100 });
        }
        await host.CreateTopicAsync("busy", new { partitions = 1, hotBytes = 65536 });
        var tiering = host.Services.GetRequiredService<TieringService>();
        await tiering.RunOnceAsync(CancellationToken.None);

        // About 200 KiB: past the 64 KiB budget by more than a segment, so due at once.
        for (var b = 0; b < 20; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "busy", Batch = Batch(new string('x', 10_000)) }, Timeout);
        }
        Assert.Single(await DueAsync());

        var written = 0;
        var calls = await CommandsDuringAsync(async () => written = await tiering.RunOnceAsync(CancellationToken.None));

        output.WriteLine($"a pass tiering one partition of 2001 ({written} segments): {calls.Values.Sum()} Redis commands ({Describe(calls)})");
        Assert.True(written >= 2, $"{written} segments written");
        Assert.True(calls.Values.Sum() < 20 * (written + 1), $"{calls.Values.Sum()} commands: {Describe(calls)}");
        var state = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "busy" }, Timeout)).Partitions[0];
        Assert.True(state.ColdBytes > 0);
        Assert.True(state.HotBytes - 65536 < 65536, $"{state.HotBytes} hot bytes left");
        // What is left waits for the segment age (60 s): back in the due set for then, not looked at meanwhile.
        var due = Assert.Single(await DueAsync());
        Assert.InRange(due.Score - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 50_000, 61_000);
        var idle = await CommandsDuringAsync(async () => Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None)));
        Assert.Equal(1, idle.Values.Sum());
    }

    [Fact]
    public async Task Batches_older_than_hot_ms_move_when_they_reach_that_age_and_not_before()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentMaxAgeMs"] = "100" });
        await host.CreateTopicAsync("aging", new { partitions = 1, hotMs = 2000 });
        var tiering = host.Services.GetRequiredService<TieringService>();
        await tiering.RunOnceAsync(CancellationToken.None);
        var stamped = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var b = 0; b < 3; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "aging", Batch = Batch($"batch {b}", stamped) }, Timeout);
        }
        // Due when the oldest batch is 2 s old, by its own timestamp.
        Assert.Equal(stamped + 2000, Assert.Single(await DueAsync()).Score);

        while (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < stamped + 1500)
        {
            Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None));
            await Task.Delay(100);
        }
        Assert.Equal(0, (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "aging" }, Timeout)).Partitions[0].ColdBytes);

        await Task.Delay((int)Math.Max(0, stamped + 2000 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) + 50);
        Assert.Equal(1, await tiering.RunOnceAsync(CancellationToken.None));
        var state = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "aging" }, Timeout)).Partitions[0];
        Assert.Equal((3L, 0L), (state.HotStartOffset, state.HotBytes));
        Assert.Empty(await DueAsync()); // nothing left to move: the flag is gone
    }

    [Fact]
    public async Task Data_written_before_the_due_set_existed_is_found_by_the_sweep_at_start_and_a_lost_mark_by_the_next_sweep()
    {
        var settings = new Dictionary<string, string> { ["Storage:Tiering:SegmentBytes"] = "65536", ["Storage:Tiering:SweepIntervalMs"] = "1000" };
        var writer = Start(settings);
        await writer.CreateTopicAsync("old", new { partitions = 2, hotBytes = 65536 });
        for (var b = 0; b < 20; b++)
        {
            await writer.Log.AppendAsync(new AppendRequest { Topic = "old", Partition = 0, Batch = Batch(new string('x', 10_000)) }, Timeout);
        }
        // As a Storage before this change left it: no due set, no "tdue" in the partition's meta, no sweep marker.
        var db = _admin.GetDatabase();
        var topic = await writer.Services.GetRequiredService<Broker.Storage.Topics.TopicRegistry>().GetAsync("old", CancellationToken.None);
        await db.KeyDeleteAsync([_prefix + ":tiering:due", _prefix + ":tiering:sweep"]);
        await db.HashDeleteAsync($"{_prefix}:{{old:0}}:{topic.Id}:meta", "tdue");

        var upgraded = Start(settings);
        Assert.True(await upgraded.Services.GetRequiredService<TieringService>().RunOnceAsync(CancellationToken.None) >= 2);
        Assert.True((await upgraded.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "old" }, Timeout)).Partitions[0].ColdBytes > 0);

        // An append whose mark was lost (the appender died after its script): the partition's meta says it is due,
        // the due set does not know; the next sweep puts it back.
        for (var b = 0; b < 20; b++)
        {
            await upgraded.Log.AppendAsync(new AppendRequest { Topic = "old", Partition = 1, Batch = Batch(new string('y', 10_000)) }, Timeout);
        }
        await db.SortedSetRemoveAsync(_prefix + ":tiering:due", $"old/1/{topic.Id}");
        var tiering = upgraded.Services.GetRequiredService<TieringService>();
        Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None));
        await Task.Delay(1100);
        Assert.True(await tiering.RunOnceAsync(CancellationToken.None) >= 2);
    }

    [Fact]
    public async Task A_smaller_hot_budget_makes_the_partitions_due_without_an_append_and_deleting_the_topic_empties_the_due_set()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentBytes"] = "65536" });
        await host.CreateTopicAsync("shrinking", new { partitions = 3 });
        for (var b = 0; b < 20; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "shrinking", Partition = 1, Batch = Batch(new string('z', 10_000)) }, Timeout);
        }
        var tiering = host.Services.GetRequiredService<TieringService>();
        Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None));
        Assert.Empty(await DueAsync());

        await host.CreateTopicAsync("shrinking", new { hotBytes = 65536 });
        Assert.Equal(3, (await DueAsync()).Length);
        Assert.True(await tiering.RunOnceAsync(CancellationToken.None) >= 2);
        Assert.Single(await DueAsync()); // partition 1's remainder, waiting for the segment age; the empty ones are gone

        using var deleted = await host.Http.DeleteAsync("/v1/topics/shrinking");
        Assert.True(deleted.IsSuccessStatusCode);
        Assert.Empty(await DueAsync());
    }

    [Fact]
    public async Task A_retention_pass_over_two_thousand_partitions_costs_one_command_per_partition()
    {
        var host = Start();
        for (var t = 0; t < 20; t++)
        {
            await host.CreateTopicAsync($"idle-{t}", new { partitions = 100 });
        }
        for (var t = 0; t < 20; t++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = $"idle-{t}", Partition = t, Batch = Batch("small") }, Timeout);
        }
        var retention = host.Services.GetRequiredService<Broker.Storage.Retention.RetentionService>();
        await retention.RunOnceAsync(CancellationToken.None);

        var calls = await CommandsDuringAsync(async () => Assert.Equal(0, await retention.RunOnceAsync(CancellationToken.None)));

        output.WriteLine($"an idle retention pass over 2000 partitions: {calls.Values.Sum()} Redis commands ({Describe(calls)})");
        Assert.True(calls.Values.Sum() <= 2000 + 1, $"{calls.Values.Sum()} commands: {Describe(calls)}");
    }

    [Fact]
    public async Task Retention_skips_a_partition_until_its_oldest_batch_expires_and_then_trims_it()
    {
        var host = Start();
        await host.CreateTopicAsync("expiring", new { partitions = 1, retentionMs = 2000 });
        var stamped = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await host.Log.AppendAsync(new AppendRequest { Topic = "expiring", Batch = Batch("first", stamped) }, Timeout);
        await host.Log.AppendAsync(new AppendRequest { Topic = "expiring", Batch = Batch("second", stamped + 1000) }, Timeout);
        var retention = host.Services.GetRequiredService<Broker.Storage.Retention.RetentionService>();

        Assert.Equal(0, await retention.RunOnceAsync(CancellationToken.None));
        var skipped = await CommandsDuringAsync(async () => Assert.Equal(0, await retention.RunOnceAsync(CancellationToken.None)));
        Assert.Equal(["hgetall", "hmget"], skipped.Keys.Order(StringComparer.Ordinal)); // read, not trimmed

        await Task.Delay((int)Math.Max(0, stamped + 2100 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        Assert.Equal(1, await retention.RunOnceAsync(CancellationToken.None));
        await Task.Delay((int)Math.Max(0, stamped + 3100 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        Assert.Equal(1, await retention.RunOnceAsync(CancellationToken.None));
        var state = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "expiring" }, Timeout)).Partitions[0];
        Assert.Equal((2L, 2L), (state.StartOffset, state.EndOffset));
    }

    private async Task<SortedSetEntry[]> DueAsync() =>
        await _admin.GetDatabase().SortedSetRangeByRankWithScoresAsync(_prefix + ":tiering:due");

    private static Google.Protobuf.ByteString Batch(string value, long? timestamp = null) =>
        Google.Protobuf.ByteString.CopyFrom(TestBatches.Build([value], timestamp: timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

    /// <summary>Commands the server ran (by name, script-run ones included) while <paramref name="action"/> ran; the counting's own INFO and CONFIG left out.</summary>
    private async Task<Dictionary<string, long>> CommandsDuringAsync(Func<Task> action)
    {
        var server = _admin.GetServer(_admin.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();
        await action();
        var info = await server.InfoAsync("commandstats");
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var entry in info.SelectMany(g => g))
        {
            var name = entry.Key.Replace("cmdstat_", "", StringComparison.Ordinal);
            if (name.StartsWith("info", StringComparison.Ordinal) || name.StartsWith("config", StringComparison.Ordinal))
            {
                continue;
            }
            var field = entry.Value.Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
            calls[name] = long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
        }
        return calls;
    }

    private static string Describe(Dictionary<string, long> calls) =>
        string.Join(", ", calls.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value}"));
}
