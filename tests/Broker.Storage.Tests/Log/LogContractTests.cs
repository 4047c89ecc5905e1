using System.Net.Http.Json;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Storage.Retention;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Storage.Tests.Log;

/// <summary>
/// What the log promises through its gRPC API, checked against each hot tier: the same tests run on
/// a real redis-server and on the in-process tier.
/// </summary>
public abstract class LogContractTests : IAsyncLifetime
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(90);
    private readonly CancellationTokenSource _timeout = new(s_testTimeout);
    private StorageHost? _host;

    protected StorageHost Host => _host!;
    protected LogService.LogServiceClient Log => Host.Log;
    protected CancellationToken Timeout => _timeout.Token;

    protected abstract StorageHost StartHost();

    public Task InitializeAsync()
    {
        _host = StartHost();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        _timeout.Dispose();
    }

    protected static string NewTopic(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Four_concurrent_appenders_get_dense_offsets_with_no_gap_no_duplicate_and_their_order_kept()
    {
        const int appenders = 4;
        const int recordsPerAppender = 12_500; // 50k in all
        const int batchSize = 100;
        var topic = NewTopic("dense");
        await Host.CreateTopicAsync(topic, partitions: 1);

        var acked = new List<(int Appender, int FirstSeq, long BaseOffset)>[appenders];
        await Task.WhenAll(Enumerable.Range(0, appenders).Select(a => Task.Run(async () =>
        {
            acked[a] = [];
            using var builder = new RecordBatchBuilder();
            for (var first = 0; first < recordsPerAppender; first += batchSize)
            {
                builder.Reset();
                for (var seq = first; seq < first + batchSize; seq++)
                {
                    builder.Add(Encoding.UTF8.GetBytes($"a{a}"), Encoding.UTF8.GetBytes($"{a}:{seq}"), null, 1000 + seq);
                }
                var response = await Log.AppendAsync(
                    new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(builder.Build()) }, cancellationToken: Timeout);
                Assert.Equal(batchSize, response.RecordCount);
                acked[a].Add((a, first, response.BaseOffset));
            }
        })));

        var records = await ReadAll(topic, 0, from: 0);
        Assert.Equal(appenders * recordsPerAppender, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(i, records[i].Offset); // dense: no gap, no duplicate offset
        }
        var seen = new HashSet<string>();
        var lastSeq = new int[appenders];
        Array.Fill(lastSeq, -1);
        foreach (var (_, value) in records)
        {
            Assert.True(seen.Add(value), $"record {value} was stored twice");
            var parts = value.Split(':');
            var (a, seq) = (int.Parse(parts[0]), int.Parse(parts[1]));
            Assert.True(seq > lastSeq[a], $"appender {a}'s record {seq} came after its record {lastSeq[a]}");
            lastSeq[a] = seq;
        }
        Assert.All(lastSeq, last => Assert.Equal(recordsPerAppender - 1, last));
        // Every ack named where its batch really is.
        foreach (var (a, firstSeq, baseOffset) in acked.SelectMany(x => x))
        {
            Assert.Equal($"{a}:{firstSeq}", records[(int)baseOffset].Value);
        }
    }

    [Fact]
    public async Task A_read_from_the_middle_of_a_batch_starts_exactly_there()
    {
        var topic = NewTopic("middle");
        await Host.CreateTopicAsync(topic, partitions: 2);
        for (var b = 0; b < 5; b++)
        {
            await Append(topic, 1, Enumerable.Range(b * 10, 10).Select(i => $"v{i}"));
        }

        foreach (var from in new long[] { 0, 1, 9, 10, 15, 33, 49 })
        {
            var records = await ReadAll(topic, 1, from);
            Assert.Equal(Enumerable.Range((int)from, 50 - (int)from).Select(i => (long)i), records.Select(r => r.Offset));
            Assert.Equal(Enumerable.Range((int)from, 50 - (int)from).Select(i => $"v{i}"), records.Select(r => r.Value));
        }

        var first = await Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 1, Offset = 15, MaxBytes = 1 }, cancellationToken: Timeout);
        var batch = RecordBatch.Validate(first.Batches[0].Memory);
        Assert.Equal(15, batch.BaseOffset);
        Assert.Equal(5, batch.RecordCount);
        Assert.Equal(20, first.NextOffset);
        Assert.Equal(50, first.EndOffset);

        var atEnd = await Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 1, Offset = 50 }, cancellationToken: Timeout);
        Assert.Empty(atEnd.Batches);
        Assert.Equal(50, atEnd.NextOffset);

        var past = await Assert.ThrowsAsync<RpcException>(() =>
            Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 1, Offset = 51 }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.OutOfRange, past.StatusCode);
        Assert.Contains("51", past.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idempotent_retry_returns_the_original_offsets_and_writes_nothing()
    {
        var topic = NewTopic("idem");
        await Host.CreateTopicAsync(topic, partitions: 1);
        await Append(topic, 0, ["before"]);

        var first = BuildBatch(["a", "b", "c"], producerId: 77, baseSequence: 0);
        var original = await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(first) }, cancellationToken: Timeout);
        Assert.False(original.Duplicate);
        Assert.Equal(1, original.BaseOffset);

        var retry = await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(first) }, cancellationToken: Timeout);
        Assert.True(retry.Duplicate);
        Assert.Equal(original.BaseOffset, retry.BaseOffset);
        Assert.Equal(4, retry.EndOffset);

        var next = await Log.AppendAsync(new AppendRequest
        {
            Topic = topic,
            Partition = 0,
            Batch = ByteString.CopyFrom(BuildBatch(["d"], producerId: 77, baseSequence: 3)),
        }, cancellationToken: Timeout);
        Assert.Equal(4, next.BaseOffset);

        // An older batch retried again still maps to its offsets.
        var again = await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(first) }, cancellationToken: Timeout);
        Assert.True(again.Duplicate);
        Assert.Equal(1, again.BaseOffset);

        var gap = await Assert.ThrowsAsync<RpcException>(() => Log.AppendAsync(new AppendRequest
        {
            Topic = topic,
            Partition = 0,
            Batch = ByteString.CopyFrom(BuildBatch(["skipped ahead"], producerId: 77, baseSequence: 9)),
        }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, gap.StatusCode);
        Assert.Contains("expected is 4", gap.Status.Detail, StringComparison.Ordinal);

        var records = await ReadAll(topic, 0, from: 0);
        Assert.Equal(["before", "a", "b", "c", "d"], records.Select(r => r.Value));
    }

    [Fact]
    public async Task An_idempotent_producer_goes_on_across_the_sequence_wrap()
    {
        var topic = NewTopic("wrap");
        await Host.CreateTopicAsync(topic, partitions: 1);
        var beforeWrap = BuildBatch(["a", "b", "c", "d", "e"], producerId: 3, baseSequence: int.MaxValue - 1);
        Assert.Equal(0, (await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(beforeWrap) }, cancellationToken: Timeout)).BaseOffset);

        var afterWrap = BuildBatch(["f"], producerId: 3, baseSequence: 3);
        var appended = await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(afterWrap) }, cancellationToken: Timeout);
        Assert.False(appended.Duplicate);
        Assert.Equal(5, appended.BaseOffset);

        var retry = await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(afterWrap) }, cancellationToken: Timeout);
        Assert.True(retry.Duplicate);
        Assert.Equal(5, retry.BaseOffset);
    }

    [Fact]
    public async Task Group_offsets_do_not_carry_over_to_a_re_created_topic()
    {
        var topic = NewTopic("recreate");
        await Host.CreateTopicAsync(topic, partitions: 1);
        await Log.CommitOffsetsAsync(new CommitOffsetsRequest { Group = "g", Topic = topic, Offsets = { new GroupOffset { Partition = 0, Offset = 42 } } }, cancellationToken: Timeout);

        using (var deleted = await Host.Http.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await Host.CreateTopicAsync(topic, partitions: 1);

        var fetched = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "g", Topic = topic }, cancellationToken: Timeout);
        Assert.Equal(-1, Assert.Single(fetched.Offsets).Offset);
    }

    [Fact]
    public async Task Concurrent_topic_updates_are_all_applied_and_none_is_lost()
    {
        var topic = NewTopic("concurrent");
        await Host.CreateTopicAsync(topic, partitions: 1);
        object[] changes =
        [
            new { partitions = 4 },
            new { retentionMs = 7_200_000 },
            new { retentionBytes = 1_048_576 },
            new { hotBytes = 2_048_000 },
            new { maxDeliveryAttempts = 9 },
            new { deadLetterTopic = "elsewhere" },
            new { compression = "zstd" },
            new { schemaSubject = "orders-value" },
        ];
        await Task.WhenAll(changes.Select(change => Host.CreateTopicAsync(topic, change)));

        var info = await Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/v1/topics/{topic}", Timeout);
        Assert.Equal(4, info.GetProperty("partitions").GetInt32());
        Assert.Equal(7_200_000, info.GetProperty("retentionMs").GetInt64());
        Assert.Equal(1_048_576, info.GetProperty("retentionBytes").GetInt64());
        Assert.Equal(2_048_000, info.GetProperty("hotBytes").GetInt64());
        Assert.Equal(9, info.GetProperty("maxDeliveryAttempts").GetInt32());
        Assert.Equal("elsewhere", info.GetProperty("deadLetterTopic").GetString());
        Assert.Equal("zstd", info.GetProperty("compression").GetString());
        Assert.Equal("orders-value", info.GetProperty("schemaSubject").GetString());
        for (var p = 0; p < 4; p++)
        {
            Assert.Equal(0, (await Append(topic, p, ["x"])).BaseOffset);
        }
    }

    [Fact]
    public async Task Appends_to_a_missing_topic_or_partition_or_with_a_corrupt_batch_are_clear_errors_and_write_nothing()
    {
        var topic = NewTopic("errors");
        await Host.CreateTopicAsync(topic, partitions: 2);
        var good = BuildBatch(["x"]);

        var noTopic = await Assert.ThrowsAsync<RpcException>(() =>
            Log.AppendAsync(new AppendRequest { Topic = "no-such-topic-" + topic, Partition = 0, Batch = ByteString.CopyFrom(good) }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, noTopic.StatusCode);
        Assert.Contains("does not exist", noTopic.Status.Detail, StringComparison.Ordinal);

        var noPartition = await Assert.ThrowsAsync<RpcException>(() =>
            Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 2, Batch = ByteString.CopyFrom(good) }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, noPartition.StatusCode);
        Assert.Contains("no partition 2", noPartition.Status.Detail, StringComparison.Ordinal);

        var corrupt = (byte[])good.Clone();
        corrupt[^1] ^= 0xFF;
        var bad = await Assert.ThrowsAsync<RpcException>(() =>
            Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(corrupt) }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("CRC", bad.Status.Detail, StringComparison.Ordinal);

        var empty = await Assert.ThrowsAsync<RpcException>(() =>
            Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0 }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);

        var described = await Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic }, cancellationToken: Timeout);
        Assert.All(described.Partitions, p => Assert.Equal(0, p.EndOffset));
    }

    [Fact]
    public async Task A_batch_over_the_size_limit_is_refused_with_the_limit_named()
    {
        var topic = NewTopic("limit");
        await Host.CreateTopicAsync(topic, partitions: 1);
        var big = BuildBatch([new string('x', 2 * 1024 * 1024)]);
        await using var limited = StorageHostWithLimit();
        if (limited is null)
        {
            return;
        }
        await limited.CreateTopicAsync(topic, 1);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            limited.Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(big) }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("Storage:MaxBatchBytes", error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>A second host on the same tier with a 1 MiB batch limit (null where the tier is per-host memory).</summary>
    protected abstract StorageHost? StorageHostWithLimit();

    [Fact]
    public async Task A_waiting_read_wakes_when_records_arrive()
    {
        var topic = NewTopic("wait");
        await Host.CreateTopicAsync(topic, partitions: 1);

        var waiting = Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 0, Offset = 0, MaxWaitMs = 20_000 }, cancellationToken: Timeout).ResponseAsync;
        await Task.Delay(300, Timeout);
        Assert.False(waiting.IsCompleted);
        await Append(topic, 0, ["hello"]);

        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10), Timeout);
        var batch = RecordBatch.Validate(Assert.Single(response.Batches).Memory);
        Assert.Equal(0, batch.BaseOffset);

        var timedOut = await Log.WaitForDataAsync(new WaitForDataRequest { Topic = topic, Partition = 0, Offset = 1, MaxWaitMs = 300 }, cancellationToken: Timeout);
        Assert.False(timedOut.HasData);
        Assert.Equal(1, timedOut.EndOffset);
    }

    [Fact]
    public async Task Group_offsets_are_committed_and_fetched_per_partition()
    {
        var topic = NewTopic("groups");
        await Host.CreateTopicAsync(topic, partitions: 3);

        var none = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "billing", Topic = topic }, cancellationToken: Timeout);
        Assert.All(none.Offsets, o => Assert.Equal(-1, o.Offset));

        await Log.CommitOffsetsAsync(new CommitOffsetsRequest
        {
            Group = "billing",
            Topic = topic,
            Offsets = { new GroupOffset { Partition = 0, Offset = 10 }, new GroupOffset { Partition = 2, Offset = 5, Metadata = "m" } },
        }, cancellationToken: Timeout);
        await Log.CommitOffsetsAsync(new CommitOffsetsRequest
        {
            Group = "shipping",
            Topic = topic,
            Offsets = { new GroupOffset { Partition = 0, Offset = 1 } },
        }, cancellationToken: Timeout);

        var billing = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "billing", Topic = topic }, cancellationToken: Timeout);
        Assert.Equal([10L, -1L, 5L], billing.Offsets.Select(o => o.Offset));
        Assert.Equal("m", billing.Offsets[2].Metadata);
        var shipping = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "shipping", Topic = topic }, cancellationToken: Timeout);
        Assert.Equal([1L, -1L, -1L], shipping.Offsets.Select(o => o.Offset));

        var badPartition = await Assert.ThrowsAsync<RpcException>(() => Log.CommitOffsetsAsync(new CommitOffsetsRequest
        {
            Group = "billing",
            Topic = topic,
            Offsets = { new GroupOffset { Partition = 3, Offset = 1 } },
        }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, badPartition.StatusCode);
        var badGroup = await Assert.ThrowsAsync<RpcException>(() =>
            Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "no spaces", Topic = topic }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badGroup.StatusCode);
    }

    [Fact]
    public async Task A_commit_under_an_older_lease_epoch_is_refused_once_a_newer_lease_fenced_the_partition()
    {
        var topic = NewTopic("fenced");
        await Host.CreateTopicAsync(topic, partitions: 2);
        CommitOffsetsRequest Commit(params (int Partition, long Offset, long Epoch)[] offsets)
        {
            var request = new CommitOffsetsRequest { Group = "billing", Topic = topic };
            request.Offsets.AddRange(offsets.Select(o => new GroupOffset { Partition = o.Partition, Offset = o.Offset, LeaseEpoch = o.Epoch }));
            return request;
        }

        // The first holder (epoch 100) commits both partitions.
        Assert.Empty((await Log.CommitOffsetsAsync(Commit((0, 10, 100), (1, 4, 100)), cancellationToken: Timeout)).FencedPartitions);

        // A new holder of partition 0 (epoch 200) fences it and reads the position the old one left.
        var taken = await Log.FetchOffsetsAsync(new FetchOffsetsRequest
        {
            Group = "billing",
            Topic = topic,
            Fence = { new GroupOffset { Partition = 0, LeaseEpoch = 200 } },
        }, cancellationToken: Timeout);
        Assert.Empty(taken.FencedPartitions);
        Assert.Equal([10L, 4L], taken.Offsets.Select(o => o.Offset));
        Assert.Equal([200L, 100L], taken.Offsets.Select(o => o.LeaseEpoch));

        // The old holder, not knowing, commits again: partition 0 is refused and keeps its offset, partition 1 (still its own) moves.
        var zombie = await Log.CommitOffsetsAsync(Commit((0, 3, 100), (1, 6, 100)), cancellationToken: Timeout);
        Assert.Equal([0], zombie.FencedPartitions);
        // The new holder commits; an unfenced commit (an administrative reset, epoch 0) is never refused.
        Assert.Empty((await Log.CommitOffsetsAsync(Commit((0, 12, 200)), cancellationToken: Timeout)).FencedPartitions);
        var offsets = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "billing", Topic = topic }, cancellationToken: Timeout);
        Assert.Equal([12L, 6L], offsets.Offsets.Select(o => o.Offset));
        Assert.Empty((await Log.CommitOffsetsAsync(Commit((1, 0, 0)), cancellationToken: Timeout)).FencedPartitions);

        // A fence older than what Storage holds says so, and changes nothing.
        var late = await Log.FetchOffsetsAsync(new FetchOffsetsRequest
        {
            Group = "billing",
            Topic = topic,
            Fence = { new GroupOffset { Partition = 0, LeaseEpoch = 150 } },
        }, cancellationToken: Timeout);
        Assert.Equal([0], late.FencedPartitions);
        Assert.Equal([12L, 0L], late.Offsets.Select(o => o.Offset));
        Assert.Equal(200L, late.Offsets[0].LeaseEpoch);

        var bad = await Assert.ThrowsAsync<RpcException>(() => Log.FetchOffsetsAsync(new FetchOffsetsRequest
        {
            Group = "billing",
            Topic = topic,
            Fence = { new GroupOffset { Partition = 0, LeaseEpoch = 0 } },
        }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("lease epoch", bad.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compressed_topic_stores_compressed_batches_and_reads_back_the_same_records()
    {
        var topic = NewTopic("zstd");
        await Host.CreateTopicAsync(topic, partitions: 1, compression: "zstd");
        var values = Enumerable.Range(0, 200).Select(i => $"{{\"order\":{i},\"status\":\"created\"}}").ToArray();
        await Append(topic, 0, values);

        var read = await Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 0, Offset = 0 }, cancellationToken: Timeout);
        Assert.Equal(CompressionCodec.Zstd, RecordBatch.Validate(read.Batches[0].Memory).Codec);
        Assert.Equal(values, (await ReadAll(topic, 0, 0)).Select(r => r.Value));
    }

    [Fact]
    public async Task Retention_by_bytes_removes_the_oldest_batches_and_moves_the_start_not_the_end()
    {
        var topic = NewTopic("bytes");
        await Host.CreateTopicAsync(topic, new { partitions = 1, retentionBytes = 4096 });
        for (var b = 0; b < 10; b++)
        {
            await Append(topic, 0, [$"{b}:" + new string('x', 1000)]);
        }

        var removed = await Host.Services.GetRequiredService<RetentionService>().RunOnceAsync(Timeout);

        var state = (await Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic }, cancellationToken: Timeout)).Partitions[0];
        Assert.Equal(removed, state.StartOffset); // one record per batch
        Assert.True(removed >= 6, $"only {removed} batches removed");
        Assert.Equal(10, state.EndOffset);
        Assert.True(state.HotBytes <= 4096, $"{state.HotBytes} bytes kept");
        var kept = await ReadAll(topic, 0, state.StartOffset);
        Assert.Equal(Enumerable.Range((int)state.StartOffset, 10 - (int)state.StartOffset).Select(i => (long)i), kept.Select(r => r.Offset));

        var gone = await Assert.ThrowsAsync<RpcException>(() =>
            Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 0, Offset = 0 }, cancellationToken: Timeout).ResponseAsync);
        Assert.Equal(StatusCode.OutOfRange, gone.StatusCode);
        Assert.Contains($"offsets {state.StartOffset} to 9", gone.Status.Detail, StringComparison.Ordinal);

        // New appends go on from the same end.
        Assert.Equal(10, (await Append(topic, 0, ["after"])).BaseOffset);
    }

    [Fact]
    public async Task Retention_by_time_removes_batches_whose_newest_record_is_too_old()
    {
        var topic = NewTopic("time");
        await Host.CreateTopicAsync(topic, new { partitions = 1, retentionMs = 3_600_000 });
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Append(topic, 0, ["old-1", "old-2"], timestamp: now - 7_200_000);
        await Append(topic, 0, ["old-3"], timestamp: now - 3_700_000);
        await Append(topic, 0, ["recent"], timestamp: now - 60_000);
        await Append(topic, 0, ["old-but-after-recent"], timestamp: now - 9_000_000); // behind a kept batch: stays

        Assert.Equal(2, await Host.Services.GetRequiredService<RetentionService>().RunOnceAsync(Timeout));
        Assert.Equal(["recent", "old-but-after-recent"], (await ReadAll(topic, 0, 3)).Select(r => r.Value));
        Assert.Equal(0, await Host.Services.GetRequiredService<RetentionService>().RunOnceAsync(Timeout));
    }

    protected async Task<AppendResponse> Append(string topic, int partition, IEnumerable<string> values, long timestamp = 1_000) =>
        await Log.AppendAsync(new AppendRequest { Topic = topic, Partition = partition, Batch = ByteString.CopyFrom(BuildBatch(values, timestamp: timestamp)) }, cancellationToken: Timeout);

    protected static byte[] BuildBatch(IEnumerable<string> values, long producerId = -1, int baseSequence = -1, long timestamp = 1_000) =>
        TestBatches.Build(values, producerId, baseSequence, timestamp);

    protected async Task<List<(long Offset, string Value)>> ReadAll(string topic, int partition, long from)
    {
        var records = new List<(long, string)>();
        var offset = from;
        while (true)
        {
            var response = await Log.ReadAsync(new ReadRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = 256 * 1024 }, cancellationToken: Timeout);
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
            Assert.Equal(records[^1].Item1 + 1, response.NextOffset);
            offset = response.NextOffset;
        }
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisLogContractTests(RedisFixture redis) : LogContractTests
{
    private readonly string _prefix = redis.NewPrefix("log");

    protected override StorageHost StartHost() => StorageHost.Start(redis.ConnectionString, _prefix);

    protected override StorageHost? StorageHostWithLimit() =>
        StorageHost.Start(redis.ConnectionString, redis.NewPrefix("limit"), new Dictionary<string, string> { ["Storage:MaxBatchBytes"] = "1048576" });

    [Fact]
    public async Task An_instance_with_a_stale_topic_cache_follows_a_topic_re_created_through_another_instance()
    {
        var topic = NewTopic("stale");
        await using var other = StorageHost.Start(redis.ConnectionString, _prefix, new Dictionary<string, string> { ["Storage:TopicCacheSeconds"] = "3600" });
        await Host.CreateTopicAsync(topic, partitions: 1);
        await Append(topic, 0, ["old"]);
        // The other instance caches the first incarnation.
        Assert.Equal(1, (await other.Log.WaitForDataAsync(new WaitForDataRequest { Topic = topic, Partition = 0, Offset = 0 }, cancellationToken: Timeout)).EndOffset);

        using (var deleted = await Host.Http.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await Host.CreateTopicAsync(topic, partitions: 1);
        await Append(topic, 0, ["new-1", "new-2"]);

        var waited = await other.Log.WaitForDataAsync(new WaitForDataRequest { Topic = topic, Partition = 0, Offset = 0, MaxWaitMs = 100 }, cancellationToken: Timeout);
        Assert.Equal(2, waited.EndOffset);
        var read = await other.Log.ReadAsync(new ReadRequest { Topic = topic, Partition = 0, Offset = 0 }, cancellationToken: Timeout);
        Assert.Equal(2, RecordBatch.Validate(read.Batches[0].Memory).RecordCount);
        var appended = await other.Log.AppendAsync(new AppendRequest { Topic = topic, Partition = 0, Batch = ByteString.CopyFrom(BuildBatch(["via other"])) }, cancellationToken: Timeout);
        Assert.Equal(2, appended.BaseOffset);
    }

    [Fact]
    public async Task Deleting_a_topic_deletes_the_offsets_every_group_committed_in_it()
    {
        var topic = NewTopic("gone");
        var kept = NewTopic("kept");
        await Host.CreateTopicAsync(topic, partitions: 2);
        await Host.CreateTopicAsync(kept, partitions: 1);
        foreach (var group in new[] { "billing", "shipping", "audit" })
        {
            await Log.CommitOffsetsAsync(new CommitOffsetsRequest { Group = group, Topic = topic, Offsets = { new GroupOffset { Partition = 1, Offset = 7 } } }, cancellationToken: Timeout);
        }
        await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "fenced-only", Topic = topic, Fence = { new GroupOffset { Partition = 0, LeaseEpoch = 5 } } }, cancellationToken: Timeout);
        await Log.CommitOffsetsAsync(new CommitOffsetsRequest { Group = "billing", Topic = kept, Offsets = { new GroupOffset { Partition = 0, Offset = 3 } } }, cancellationToken: Timeout);
        var server = redis.Connection.GetServers()[0];
        var prefix = _prefix.TrimEnd(':');
        string[] Keys(string name) =>
            [.. server.Keys(pattern: $"{prefix}:group:*:{name}:*").Concat(server.Keys(pattern: $"{prefix}:topic-groups:*{name}*")).Select(k => (string)k!)];
        Assert.Equal(5, Keys(topic).Length); // four groups' offsets and the index of them

        using (var deleted = await Host.Http.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }
        Assert.Empty(Keys(topic));
        var billing = await Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "billing", Topic = kept }, cancellationToken: Timeout);
        Assert.Equal(3, Assert.Single(billing.Offsets).Offset);
    }
}

public sealed class InMemoryLogContractTests : LogContractTests
{
    protected override StorageHost StartHost() => StorageHost.Start(null, "mem");

    protected override StorageHost? StorageHostWithLimit() =>
        StorageHost.Start(null, "mem", new Dictionary<string, string> { ["Storage:MaxBatchBytes"] = "1048576" });
}
