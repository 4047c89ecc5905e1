using System.Text;
using Broker.Contracts.Delivery;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class RetryTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private BrokerCluster _cluster = null!;

    public Task InitializeAsync()
    {
        // Without jitter the waits are exactly 300, 600, 1200 ms, so their growth can be asserted: steps of
        // hundreds of milliseconds stand clear of the stalls a loaded 2-core machine adds (up to ~250 ms seen).
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("retry"),
            new Dictionary<string, string> { ["Delivery:RetryJitter"] = "false", ["Delivery:RetryBaseDelayMs"] = "300" });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task A_record_nacked_every_time_is_dead_lettered_after_exactly_max_attempts_with_growing_backoff_and_the_partition_moves_on()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("emails", partitions: 1, new { MaxDeliveryAttempts = 4 });
        await _cluster.ProduceAsync("emails", [("user-1", "poison"), ("user-1", "fine"), ("user-2", "also fine")],
            headers: [("source", "signup")], cancellationToken: ct);
        var node = _cluster.StartDelivery();
        var consumer = await TestConsumer.StartAsync("mailer", node.Client,
            new Subscribe { Group = "mailer", Topic = "emails", Window = 10, Start = StartPosition.Earliest },
            r => r.Value.ToStringUtf8() == "poison" ? Verdict.Nack : Verdict.Ack, ct);

        var dlq = new List<Contracts.Batches.Record>();
        await Wait.UntilAsync(() =>
        {
            dlq = ReadPartition("emails.dlq", 0);
            return dlq.Count > 0;
        }, TimeSpan.FromSeconds(30), () => $"the poison record in emails.dlq; the consumer saw {Describe(consumer)}");
        await Task.Delay(2500, ct); // a fifth delivery would have come by now (the next wait is 2 s, the maximum)

        var poison = consumer.Deliveries.Where(d => d.Value == "poison").ToList();
        Assert.Equal([1, 2, 3, 4], poison.Select(d => d.Attempt));
        var waits = poison.Zip(poison.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.True(waits[0] < waits[1] && waits[1] < waits[2], $"The waits between attempts should grow: {string.Join(", ", waits.Select(w => w.TotalMilliseconds))} ms");
        Assert.True(waits[0] >= TimeSpan.FromMilliseconds(290), $"The first wait is the base delay (300 ms); it was {waits[0].TotalMilliseconds} ms");
        // The records behind it did not wait for it.
        var fine = consumer.Deliveries.Single(d => d.Value == "fine");
        Assert.True(fine.At < poison[1].At);
        Assert.Single(consumer.Deliveries, d => d.Value == "also fine");

        var dead = Assert.Single(dlq);
        Assert.Equal("poison", Encoding.UTF8.GetString(dead.Value.Span));
        Assert.Equal("user-1", Encoding.UTF8.GetString(dead.Key!.Value.Span));
        var headers = dead.Headers.ToDictionary(h => h.Name, h => Encoding.UTF8.GetString(h.Value.Span));
        Assert.Equal("emails", headers["dlq.original.topic"]);
        Assert.Equal("0", headers["dlq.original.partition"]);
        Assert.Equal("0", headers["dlq.original.offset"]);
        Assert.Equal("4", headers["dlq.attempts"]);
        Assert.Equal("mailer", headers["dlq.group"]);
        Assert.Equal("test refused offset 0", headers["dlq.error"]);
        Assert.Equal("signup", headers["source"]);

        // Dead-lettered counts as settled: the group's committed offset moves past all three records.
        await Wait.UntilAsync(() => Committed("mailer", "emails")[0] == 3, TimeSpan.FromSeconds(10), () => "the committed offset at 3");
        await consumer.DisposeAsync();
    }

    [Fact]
    public async Task Ordered_mode_keeps_partition_order_through_a_retry()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("ledger", partitions: 2);
        var produced = await _cluster.ProduceAsync("ledger",
            [.. Enumerable.Range(0, 40).Select(i => ((string?)$"account-{i % 2}", $"entry-{i}"))], cancellationToken: ct);
        var retried = produced[10];
        var refusals = 0;
        var node = _cluster.StartDelivery();
        var consumer = await TestConsumer.StartAsync("books", node.Client,
            new Subscribe { Group = "books", Topic = "ledger", Window = 100, Mode = DeliveryMode.Ordered, Start = StartPosition.Earliest },
            r => r.Partition == retried.Partition && r.Offset == retried.Offset && Interlocked.Increment(ref refusals) <= 2 ? Verdict.Nack : Verdict.Ack, ct);

        await Wait.UntilAsync(() => consumer.Deliveries.Select(d => (d.Partition, d.Offset)).Distinct().Count() == 40, TimeSpan.FromSeconds(30),
            () => $"{consumer.Deliveries.Count} deliveries");
        foreach (var partition in consumer.Deliveries.GroupBy(d => d.Partition))
        {
            var offsets = partition.Select(d => d.Offset).ToList();
            var expected = produced.Where(o => o.Partition == partition.Key).Select(o => o.Offset).Order().ToList();
            if (partition.Key == retried.Partition)
            {
                // The retried record comes three times in a row, and nothing after it is delivered before its ack.
                var at = expected.IndexOf(retried.Offset);
                expected.InsertRange(at, [retried.Offset, retried.Offset]);
            }
            Assert.Equal(expected, offsets);
        }
        await consumer.DisposeAsync();
    }

    [Fact]
    public async Task A_retry_that_falls_due_while_a_stalled_Redis_let_the_lease_lapse_is_delivered_once_the_lease_is_renewed()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("receipts", partitions: 1, new { MaxDeliveryAttempts = 10 });
        await _cluster.ProduceAsync("receipts", [("user-1", "flaky")], cancellationToken: ct);
        // Leases of 1 s renewed every 100 ms (valid 900 ms past a renewal); a session that outlives the stall.
        var node = _cluster.StartDelivery(new Dictionary<string, string> { ["Delivery:SessionTimeoutMs"] = "10000" });
        var paused = DateTimeOffset.MinValue;
        var consumer = await TestConsumer.StartAsync("receipts", node.Client,
            new Subscribe { Group = "receipts", Topic = "receipts", Window = 10, Start = StartPosition.Earliest },
            r =>
            {
                if (r.Attempt < 3)
                {
                    return Verdict.Nack;
                }
                if (r.Attempt == 3)
                {
                    // Redis stops answering for 3 s: no lease is renewed, and the third retry falls due 1.2 s after this
                    // nack, past the lease's last valid moment.
                    redis.Connection.GetServers()[0].Execute("CLIENT", "PAUSE", "3000", "ALL");
                    paused = DateTimeOffset.UtcNow;
                    return Verdict.Nack;
                }
                return Verdict.Ack;
            }, ct);

        await Wait.UntilAsync(() => consumer.Deliveries.Any(d => d.Attempt == 4), TimeSpan.FromSeconds(15),
            () => $"the fourth attempt after Redis came back; the consumer saw {Describe(consumer)}, Redis paused at {paused:HH:mm:ss.fff}");
        var fourth = consumer.Deliveries.Single(d => d.Attempt == 4);
        Assert.True(fourth.At - paused >= TimeSpan.FromSeconds(2.5), $"The retry waited for the renewed lease: it came {(fourth.At - paused).TotalMilliseconds} ms after the pause began");
        await consumer.DisposeAsync();
    }

    private static string Describe(TestConsumer consumer) =>
        $"[{string.Join(", ", consumer.Deliveries.Select(d => $"{d.Value}@{d.Offset} attempt {d.Attempt} at {d.At:HH:mm:ss.fff}"))}], " +
        $"assigned [{string.Join(", ", consumer.Partitions)}], stream {(consumer.Ended is { } ended ? $"ended: {ended.Message}" : "open")}";

    private List<Contracts.Batches.Record> ReadPartition(string topic, int partition)
    {
        try
        {
            var response = _cluster.Storage.Read(new Contracts.Storage.ReadRequest { Topic = topic, Partition = partition, Offset = 0, MaxBytes = 1 << 20 });
            var records = new List<Contracts.Batches.Record>();
            foreach (var batch in response.Batches)
            {
                foreach (var record in Contracts.Batches.RecordBatch.Validate(batch.Memory).GetRecords())
                {
                    records.Add(record);
                }
            }
            return records;
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            return [];
        }
    }

    private long[] Committed(string group, string topic) =>
        [.. _cluster.Storage.FetchOffsets(new Contracts.Storage.FetchOffsetsRequest { Group = group, Topic = topic }).Offsets.Select(o => o.Offset)];
}
