using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Storage.Retention;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Storage.Tiering;
using Broker.Testing;
using Grpc.Core;
using StackExchange.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Storage.Tests.Tiering;

/// <summary>
/// The cold tier end to end: Storage hosted for real on Redis with its segments in a real S3-compatible
/// server (s3rver over HTTP). Tiering runs when a test says (its timer is set to an hour), so each step can
/// be looked at.
/// </summary>
[Collection(TieringCollection.Name)]
public sealed class TieringTests(RedisFixture redis, S3Fixture s3) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private static CallOptions Timeout => new(deadline: DateTime.UtcNow.AddMinutes(2));
    private readonly string _prefix = redis.NewPrefix("tiering");
    private readonly List<StorageHost> _hosts = [];
    private AmazonS3Client _s3 = null!;

    public Task InitializeAsync()
    {
        _s3 = new AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials(S3ServerProcess.AccessKey, S3ServerProcess.SecretKey),
            new AmazonS3Config { ServiceURL = s3.Server.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        _s3.Dispose();
    }

    private string ObjectPrefix => _prefix.TrimEnd(':').Replace('.', '-');

    private StorageHost Start(Dictionary<string, string>? extra = null)
    {
        var settings = s3.StorageSettings(ObjectPrefix);
        settings["Storage:Tiering:IntervalMs"] = "3600000";
        settings["Storage:RetentionCheckIntervalSeconds"] = "86400";
        settings["Storage:Tiering:ChunkBytes"] = (256 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        var host = StorageHost.Start(redis.ConnectionString, _prefix, settings);
        _hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task Fifty_megabytes_over_a_small_hot_budget_land_mostly_in_s3_and_read_back_identical_by_offset_and_by_time()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentBytes"] = (4 * MiB).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await host.CreateTopicAsync("history", new { partitions = 2, hotBytes = 2 * MiB });
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1_000_000;
        const int batchesPerPartition = 250; // 250 x 100 records x ~1 KiB = ~25 MB per partition
        var tiering = host.Services.GetRequiredService<TieringService>();
        for (var b = 0; b < batchesPerPartition; b++)
        {
            for (var p = 0; p < 2; p++)
            {
                await host.Log.AppendAsync(new AppendRequest { Topic = "history", Partition = p, Batch = Batch(p, b, t0 + (b * 10)) }, Timeout);
            }
            if (b % 20 == 19)
            {
                await tiering.RunOnceAsync(CancellationToken.None); // the worker's timer would, while producing goes on
            }
        }
        while (await tiering.RunOnceAsync(CancellationToken.None) > 0)
        {
        }

        var described = await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "history" }, Timeout);
        var hot = described.Partitions.Sum(p => p.HotBytes);
        var cold = described.Partitions.Sum(p => p.ColdBytes);
        Assert.True(cold > 0.7 * (hot + cold), $"cold {cold} of {hot + cold} bytes");
        foreach (var partition in described.Partitions)
        {
            Assert.Equal(0, partition.StartOffset);
            Assert.True(partition.HotStartOffset > 0);
            Assert.True(partition.HotBytes <= 6 * MiB, $"partition {partition.Partition} keeps {partition.HotBytes} hot bytes");
            Assert.Equal(batchesPerPartition * 100, partition.EndOffset);
        }
        // One PUT per segment of about 4 MiB, not one per batch.
        var objects = await ObjectsAsync("history");
        Assert.InRange(objects.Count, cold / (5 * MiB), (cold / (3 * MiB)) + 2);

        for (var p = 0; p < 2; p++)
        {
            var records = await ReadAllAsync(host, "history", p, 0);
            Assert.Equal(Enumerable.Range(0, batchesPerPartition * 100).Select(i => (long)i), records.Select(r => r.Offset));
            for (var i = 0; i < records.Count; i++)
            {
                Assert.Equal(Value(p, i / 100, i % 100), records[i].Value);
            }
            // From the middle of a segment too.
            var middle = await ReadAllAsync(host, "history", p, 5_555);
            Assert.Equal(5_555, middle[0].Offset);
            Assert.Equal(Value(p, 55, 55), middle[0].Value);
        }

        // By time, across both tiers: the first record stamped at or after the time.
        foreach (var b in new[] { 0, 1, 57, 130, 249 })
        {
            var found = await host.Log.FindOffsetAsync(new FindOffsetRequest { Topic = "history", Partition = 1, Timestamp = t0 + (b * 10) - 5 }, Timeout);
            Assert.True(found.Found);
            Assert.Equal(b * 100L, found.Offset);
            Assert.Equal(t0 + (b * 10), found.Timestamp);
        }
        var after = await host.Log.FindOffsetAsync(new FindOffsetRequest { Topic = "history", Partition = 0, Timestamp = t0 + 1_000_000_000 }, Timeout);
        Assert.False(after.Found);
        Assert.Equal(batchesPerPartition * 100L, after.Offset);
    }

    [Fact]
    public async Task A_crash_between_the_upload_and_the_commit_is_repaired_by_the_next_run_with_one_object_and_no_gap_or_duplicate()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentBytes"] = MiB.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await host.CreateTopicAsync("crashy", new { partitions = 1, hotBytes = MiB });
        for (var b = 0; b < 40; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "crashy", Batch = Batch(0, b, 1_000 + b) }, Timeout);
        }
        var tiering = host.Services.GetRequiredService<TieringService>();
        var crashes = 0;
        tiering.AfterUpload = (_, _, _) => crashes++ == 0 ? throw new IOException("the process died here") : Task.CompletedTask;

        Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None));
        // The object is in the store, but nothing moved: the manifest never heard of it, the hot tier is whole.
        Assert.Single(await ObjectsAsync("crashy"));
        var before = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "crashy" }, Timeout)).Partitions[0];
        Assert.Equal((0L, 0L, 0L), (before.StartOffset, before.HotStartOffset, before.ColdBytes));

        while (await tiering.RunOnceAsync(CancellationToken.None) > 0)
        {
        }
        var objects = await ObjectsAsync("crashy");
        var manifest = await host.Services.GetRequiredService<SegmentManifest>()
            .ListAsync((await host.Services.GetRequiredService<Broker.Storage.Topics.TopicRegistry>().GetAsync("crashy", CancellationToken.None)), 0, CancellationToken.None);
        Assert.True(manifest.Length >= 2);
        // One object per segment (the first written twice under the same name), segments back to back from 0.
        Assert.Equal(manifest.Select(s => Broker.Storage.Segments.SegmentFormat.ObjectName(ObjectPrefix, "crashy", 0, s.BaseOffset)), objects);
        Assert.Equal(0, manifest[0].BaseOffset);
        for (var i = 1; i < manifest.Length; i++)
        {
            Assert.Equal(manifest[i - 1].NextOffset, manifest[i].BaseOffset);
        }
        var after = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "crashy" }, Timeout)).Partitions[0];
        Assert.Equal(manifest[^1].NextOffset, after.HotStartOffset);
        var records = await ReadAllAsync(host, "crashy", 0, 0);
        Assert.Equal(Enumerable.Range(0, 4000).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, 4000).Select(i => Value(0, i / 100, i % 100)), records.Select(r => r.Value));
    }

    [Fact]
    public async Task A_tierer_whose_lease_lapsed_before_its_commit_is_refused_by_the_manifest_and_nothing_is_lost_or_doubled()
    {
        var settings = new Dictionary<string, string> { ["Storage:Tiering:SegmentBytes"] = MiB.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var a = Start(settings);
        var b = Start(settings);
        await a.CreateTopicAsync("contested", new { partitions = 1, hotBytes = MiB });
        for (var n = 0; n < 40; n++)
        {
            await a.Log.AppendAsync(new AppendRequest { Topic = "contested", Batch = Batch(0, n, 1_000 + n) }, Timeout);
        }
        var topic = await a.Services.GetRequiredService<Broker.Storage.Topics.TopicRegistry>().GetAsync("contested", CancellationToken.None);
        RedisKey lease = $"{a.Services.GetRequiredService<RedisKeys>().Prefix}:{{contested:0}}:{topic.Id}:tierlease";
        var zombie = a.Services.GetRequiredService<TieringService>();
        var successor = b.Services.GetRequiredService<TieringService>();
        var byB = 0;
        var stalled = 0;
        zombie.AfterUpload = async (_, _, segment) =>
        {
            if (stalled++ > 0)
            {
                return;
            }
            // A stalls between its upload and its commit past its lease (gone, as if it lapsed), and B tiers meanwhile.
            Assert.True(await redis.Connection.GetDatabase().KeyDeleteAsync(lease));
            int written;
            while ((written = await successor.RunOnceAsync(CancellationToken.None)) > 0)
            {
                byB += written;
            }
        };

        // A wakes and commits under its lapsed lease: the manifest's compare-and-set finds the hot tier moved and refuses it.
        Assert.Equal(0, await zombie.RunOnceAsync(CancellationToken.None));
        Assert.True(byB >= 2, $"B wrote {byB} segments");
        var manifest = await a.Services.GetRequiredService<SegmentManifest>().ListAsync(topic, 0, CancellationToken.None);
        Assert.Equal(byB, manifest.Length);
        Assert.Equal(0, manifest[0].BaseOffset);
        for (var i = 1; i < manifest.Length; i++)
        {
            Assert.Equal(manifest[i - 1].NextOffset, manifest[i].BaseOffset);
        }
        // A's object had the name of B's first segment (the same batches from the same start), which B wrote over it:
        // one object per listed segment, no orphan, and every record once.
        Assert.Equal(manifest.Select(s => Broker.Storage.Segments.SegmentFormat.ObjectName(ObjectPrefix, "contested", 0, s.BaseOffset)), await ObjectsAsync("contested"));
        var after = (await a.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "contested" }, Timeout)).Partitions[0];
        Assert.Equal(manifest[^1].NextOffset, after.HotStartOffset);
        var records = await ReadAllAsync(a, "contested", 0, 0);
        Assert.Equal(Enumerable.Range(0, 4000).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, 4000).Select(i => Value(0, i / 100, i % 100)), records.Select(r => r.Value));
    }

    [Fact]
    public async Task While_s3_is_down_producing_goes_on_within_the_hot_budget_then_meets_backpressure_and_the_backlog_tiers_when_it_returns()
    {
        var host = Start(new()
        {
            ["Storage:Tiering:SegmentBytes"] = (512 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage:Tiering:HardLimitFactor"] = "3",
            ["Storage:Segments:MaxRetries"] = "1",
            ["Storage:Segments:RetryBaseDelayMs"] = "10",
            ["Storage:Segments:TimeoutMs"] = "3000",
        });
        await host.CreateTopicAsync("outage", new { partitions = 1, hotBytes = MiB });
        var tiering = host.Services.GetRequiredService<TieringService>();
        var accepted = 0;
        await s3.Server.StopAsync();
        try
        {
            RpcException? refused = null;
            for (var b = 0; b < 200 && refused is null; b++)
            {
                try
                {
                    await host.Log.AppendAsync(new AppendRequest { Topic = "outage", Batch = Batch(0, b, 5_000 + b) }, Timeout);
                    accepted++;
                }
                catch (RpcException ex)
                {
                    refused = ex;
                }
                if (b % 5 == 0)
                {
                    Assert.Equal(0, await tiering.RunOnceAsync(CancellationToken.None)); // fails: the store is down
                }
            }
            Assert.NotNull(refused);
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("hard limit", refused.Status.Detail, StringComparison.Ordinal);
            // Everything up to the budget and beyond, to the hard limit, was taken: about 3 MiB of 100 KB batches.
            Assert.InRange(accepted, 25, 40);
        }
        finally
        {
            await s3.Server.StartAsync();
        }

        while (await tiering.RunOnceAsync(CancellationToken.None) > 0)
        {
        }
        var state = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "outage" }, Timeout)).Partitions[0];
        Assert.True(state.HotBytes <= MiB + (512 * 1024), $"{state.HotBytes} hot bytes after the backlog tiered");
        Assert.True(state.ColdBytes > 0);
        await host.Log.AppendAsync(new AppendRequest { Topic = "outage", Batch = Batch(0, accepted, 5_000 + accepted) }, Timeout);
        var records = await ReadAllAsync(host, "outage", 0, 0);
        Assert.Equal((accepted + 1) * 100, records.Count);
        Assert.Equal(Enumerable.Range(0, (accepted + 1) * 100).Select(i => Value(0, i / 100, i % 100)), records.Select(r => r.Value));
    }

    [Fact]
    public async Task Retention_deletes_whole_old_segments_manifest_first_and_reads_below_the_new_start_are_out_of_range()
    {
        var host = Start(new()
        {
            ["Storage:Tiering:SegmentBytes"] = (512 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage:Tiering:HardLimitFactor"] = "100",
        });
        await host.CreateTopicAsync("aging", new { partitions = 1, hotBytes = MiB });
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var b = 0; b < 60; b++)
        {
            // The first 20 batches are two days old; the rest are recent.
            await host.Log.AppendAsync(new AppendRequest { Topic = "aging", Batch = Batch(0, b, b < 20 ? now - (2 * 86_400_000L) : now) }, Timeout);
        }
        var tiering = host.Services.GetRequiredService<TieringService>();
        while (await tiering.RunOnceAsync(CancellationToken.None) > 0)
        {
        }
        var segmentsBefore = (await ObjectsAsync("aging")).Count;
        Assert.True(segmentsBefore >= 6);

        // A day of retention: the segments holding only old batches go; the one mixing old and new stays.
        await host.CreateTopicAsync("aging", new { retentionMs = 86_400_000L });
        var retention = host.Services.GetRequiredService<RetentionService>();
        Assert.True(await retention.RunOnceAsync(CancellationToken.None) > 0);
        var state = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "aging" }, Timeout)).Partitions[0];
        Assert.InRange(state.StartOffset, 1, 2000);
        var objects = await ObjectsAsync("aging");
        Assert.True(objects.Count < segmentsBefore);
        Assert.Equal(Broker.Storage.Segments.SegmentFormat.ObjectName(ObjectPrefix, "aging", 0, state.StartOffset), objects[0]);

        var below = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Log.ReadAsync(new ReadRequest { Topic = "aging", Offset = state.StartOffset - 1 }, Timeout));
        Assert.Equal(StatusCode.OutOfRange, below.StatusCode);
        Assert.Contains($"holds offsets {state.StartOffset} to 5999", below.Status.Detail, StringComparison.Ordinal);
        var kept = await ReadAllAsync(host, "aging", 0, state.StartOffset);
        Assert.Equal(6000 - state.StartOffset, kept.Count);

        // By bytes, across both tiers: down to about 1.5 MiB, oldest first, whole segments.
        await host.CreateTopicAsync("aging", new { retentionBytes = 3 * MiB / 2 });
        await retention.RunOnceAsync(CancellationToken.None);
        var trimmed = (await host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "aging" }, Timeout)).Partitions[0];
        Assert.True(trimmed.HotBytes + trimmed.ColdBytes <= 3 * MiB / 2, $"{trimmed.HotBytes} + {trimmed.ColdBytes} bytes kept");
        Assert.True(trimmed.StartOffset > state.StartOffset);
        var topic = await host.Services.GetRequiredService<Broker.Storage.Topics.TopicRegistry>().GetAsync("aging", CancellationToken.None);
        var listed = await host.Services.GetRequiredService<SegmentManifest>().ListAsync(topic, 0, CancellationToken.None);
        Assert.Equal(listed.Select(s => Broker.Storage.Segments.SegmentFormat.ObjectName(ObjectPrefix, "aging", 0, s.BaseOffset)), await ObjectsAsync("aging"));
        Assert.Equal(6000 - trimmed.StartOffset, (await ReadAllAsync(host, "aging", 0, trimmed.StartOffset)).Count);
    }

    [Fact]
    public async Task Deleting_a_topic_deletes_its_segments()
    {
        var host = Start(new() { ["Storage:Tiering:SegmentBytes"] = (512 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await host.CreateTopicAsync("doomed", new { partitions = 1, hotBytes = MiB });
        for (var b = 0; b < 30; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "doomed", Batch = Batch(0, b, 1_000) }, Timeout);
        }
        await host.Services.GetRequiredService<TieringService>().RunOnceAsync(CancellationToken.None);
        Assert.NotEmpty(await ObjectsAsync("doomed"));
        using var deleted = await host.Http.DeleteAsync("/v1/topics/doomed");
        Assert.True(deleted.IsSuccessStatusCode);
        Assert.Empty(await ObjectsAsync("doomed"));
    }

    [Fact]
    public async Task The_orphan_sweep_deletes_segment_objects_no_manifest_names_and_leaves_the_rest()
    {
        var host = Start(new()
        {
            ["Storage:Tiering:SegmentBytes"] = (512 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage:Tiering:OrphanGraceMs"] = "0",
        });
        await host.CreateTopicAsync("swept", new { partitions = 2, hotBytes = MiB });
        for (var b = 0; b < 30; b++)
        {
            await host.Log.AppendAsync(new AppendRequest { Topic = "swept", Batch = Batch(0, b, 1_000) }, Timeout);
        }
        await host.Services.GetRequiredService<TieringService>().RunOnceAsync(CancellationToken.None);
        var tiered = await ObjectsAsync("swept");
        Assert.NotEmpty(tiered);

        // What crashes leave behind: an upload whose manifest commit never came, one in a partition the topic does not
        // have, one of a topic deleted meanwhile; and an object that is not a segment at all, which is not the sweep's.
        var orphans = new[]
        {
            $"{ObjectPrefix}/swept/0/{99_999_999L:D20}.seg",
            $"{ObjectPrefix}/swept/7/{0L:D20}.seg",
            $"{ObjectPrefix}/long-gone/0/{0L:D20}.seg",
        };
        var foreign = $"{ObjectPrefix}/swept/0/notes.txt";
        foreach (var name in orphans.Append(foreign))
        {
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = S3ServerProcess.Bucket, Key = name, ContentBody = "left behind" });
        }

        var sweeper = host.Services.GetRequiredService<SegmentSweeper>();
        Assert.Equal(3, await sweeper.RunOnceAsync(CancellationToken.None));
        Assert.Equal([.. tiered.Append(foreign).Order(StringComparer.Ordinal)], await ObjectsAsync("swept"));
        Assert.Empty(await ObjectsAsync("long-gone"));
        Assert.Equal(0, await sweeper.RunOnceAsync(CancellationToken.None));
        // The tiered history still reads back whole.
        Assert.Equal(30 * 100, (await ReadAllAsync(host, "swept", 0, 0)).Count);

        // Objects younger than the grace time are left, whatever they are: an upload may still be on its way to the manifest.
        var patient = Start(new() { ["Storage:Tiering:OrphanGraceMs"] = "3600000" });
        await _s3.PutObjectAsync(new PutObjectRequest { BucketName = S3ServerProcess.Bucket, Key = orphans[0], ContentBody = "in flight" });
        Assert.Equal(0, await patient.Services.GetRequiredService<SegmentSweeper>().RunOnceAsync(CancellationToken.None));
        Assert.Contains(orphans[0], await ObjectsAsync("swept"));
    }

    /// <summary>Batch <paramref name="b"/> of a partition: 100 records of about 1 KiB, all stamped <paramref name="timestamp"/>.</summary>
    private static Google.Protobuf.ByteString Batch(int partition, int b, long timestamp) =>
        Google.Protobuf.ByteString.CopyFrom(TestBatches.Build(Enumerable.Range(0, 100).Select(r => Value(partition, b, r)), timestamp: timestamp));

    private static string Value(int partition, int batch, int record) =>
        $"p{partition}-b{batch}-r{record}-" + new string((char)('a' + ((batch + record) % 26)), 1000);

    private async Task<List<string>> ObjectsAsync(string topic)
    {
        var listed = await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3ServerProcess.Bucket, Prefix = $"{ObjectPrefix}/{topic}/" });
        return [.. (listed.S3Objects ?? []).Select(o => o.Key).Order(StringComparer.Ordinal)];
    }

    private static async Task<List<(long Offset, string Value)>> ReadAllAsync(StorageHost host, string topic, int partition, long from)
    {
        var records = new List<(long, string)>();
        var offset = from;
        while (true)
        {
            var response = await host.Log.ReadAsync(new ReadRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = 512 * 1024 }, Timeout);
            if (response.Batches.Count == 0)
            {
                return records;
            }
            foreach (var bytes in response.Batches)
            {
                foreach (var record in RecordBatch.Validate(bytes.Memory).GetRecords())
                {
                    records.Add((record.Offset, Encoding.UTF8.GetString(record.Value.Span)));
                }
            }
            offset = response.NextOffset;
        }
    }
}
