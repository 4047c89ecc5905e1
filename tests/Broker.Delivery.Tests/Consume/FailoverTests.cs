using System.Diagnostics;
using Broker.Contracts.Delivery;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class FailoverTests(RedisFixture redis) : IAsyncLifetime
{
    private const int LeaseMs = 1000;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private BrokerCluster _cluster = null!;

    public Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("failover"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task A_consumer_killed_mid_stream_hands_its_partitions_over_within_the_lease_and_every_record_is_acked()
    {
        const int total = 6_000;
        const int window = 50;
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("payments", partitions: 6);
        var node = _cluster.StartDelivery();
        var subscribe = new Subscribe { Group = "ledger", Topic = "payments", Window = window, Start = StartPosition.Earliest };
        var survivors = new[]
        {
            await TestConsumer.StartAsync("a", node.Client, subscribe, cancellationToken: ct),
            await TestConsumer.StartAsync("b", node.Client, subscribe, cancellationToken: ct),
        };
        // The victim takes records but answers none of them: when it dies, a whole window is in flight.
        var victim = await TestConsumer.StartAsync("victim", node.Client, subscribe, _ => Verdict.Ignore, ct);
        await Wait.UntilAsync(() => survivors.Append(victim).All(c => c.Partitions.Count == 2), TimeSpan.FromSeconds(30), () => "three consumers with two partitions each");
        var victimPartitions = victim.Partitions.ToHashSet();

        var produced = await _cluster.ProduceAsync("payments",
            [.. Enumerable.Range(0, total).Select(i => ((string?)$"account-{i % 300}", $"payment-{i}"))], cancellationToken: ct);
        await Wait.UntilAsync(() => victim.Deliveries.Count >= window, TimeSpan.FromSeconds(30), () => $"the victim holding {window} records");

        var killed = Stopwatch.StartNew();
        victim.Kill();
        await Wait.UntilAsync(() => victimPartitions.All(p => survivors.Any(s => s.Partitions.Contains(p))), TimeSpan.FromSeconds(10),
            () => $"partitions {string.Join(",", victimPartitions)} moving to the survivors");
        var handedOver = killed.Elapsed;

        await Wait.UntilAsync(() => survivors.SelectMany(s => s.Deliveries).Select(d => (d.Partition, d.Offset)).Distinct().Count() == total,
            TimeSpan.FromSeconds(60), () => $"{survivors.SelectMany(s => s.Deliveries).Select(d => (d.Partition, d.Offset)).Distinct().Count()} of {total} records acked");

        Assert.True(handedOver < TimeSpan.FromMilliseconds(LeaseMs), $"The hand-over took {handedOver.TotalMilliseconds} ms; the lease is {LeaseMs} ms.");
        var acked = survivors.SelectMany(s => s.Deliveries).ToList();
        Assert.Equal(produced.Order(), acked.Select(d => (d.Partition, d.Offset)).Distinct().Order());
        // Only what the victim held unanswered comes twice: at most its window.
        var victimOffsets = victim.Deliveries.Select(d => (d.Partition, d.Offset)).ToHashSet();
        Assert.InRange(victimOffsets.Count, 1, window);
        Assert.All(acked.GroupBy(d => (d.Partition, d.Offset)).Where(g => g.Count() > 1), g => Assert.Contains(g.Key, victimOffsets));
        Assert.All(victimOffsets, o => Assert.Contains(o, acked.Select(d => (d.Partition, d.Offset))));
        await WaitForZeroLagAsync(node, "ledger", ct);
        foreach (var consumer in survivors)
        {
            await consumer.DisposeAsync();
        }
        await victim.DisposeAsync();
    }

    [Fact]
    public async Task A_restarted_delivery_host_resumes_from_the_committed_offset_and_loses_nothing()
    {
        const int total = 4_000;
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("invoices", partitions: 3);
        var subscribe = new Subscribe { Group = "accounting", Topic = "invoices", Window = 100, Start = StartPosition.Earliest };
        var produced = await _cluster.ProduceAsync("invoices",
            [.. Enumerable.Range(0, total).Select(i => ((string?)$"customer-{i % 100}", $"invoice-{i}"))], cancellationToken: ct);

        var first = _cluster.StartDelivery();
        var before = await TestConsumer.StartAsync("before", first.Client, subscribe, cancellationToken: ct);
        await Wait.UntilAsync(() => before.Deliveries.Count >= total / 4, TimeSpan.FromSeconds(30), () => "a quarter consumed before the restart");
        await _cluster.StopDeliveryAsync(first);
        await Wait.UntilAsync(() => before.Ended is not null || before.Reading.IsCompleted, TimeSpan.FromSeconds(10), () => "the stream to end with its host");
        var committed = await _cluster.Storage.FetchOffsetsAsync(new Contracts.Storage.FetchOffsetsRequest { Group = "accounting", Topic = "invoices" }, cancellationToken: ct);

        var second = _cluster.StartDelivery();
        var after = await TestConsumer.StartAsync("after", second.Client, subscribe, cancellationToken: ct);
        var all = () => before.Deliveries.Concat(after.Deliveries).Select(d => (d.Partition, d.Offset)).Distinct().Count();
        await Wait.UntilAsync(() => all() == total, TimeSpan.FromSeconds(60), () => $"{all()} of {total} records after the restart");

        Assert.Equal(produced.Order(), before.Deliveries.Concat(after.Deliveries).Select(d => (d.Partition, d.Offset)).Distinct().Order());
        // The new host starts each partition exactly at the committed offset: nothing skipped, nothing before it repeated.
        foreach (var offset in committed.Offsets)
        {
            var resumed = after.Deliveries.Where(d => d.Partition == offset.Partition).ToList();
            if (resumed.Count > 0)
            {
                Assert.Equal(offset.Offset, resumed.Min(d => d.Offset));
            }
            Assert.True(before.Deliveries.Where(d => d.Partition == offset.Partition).Select(d => d.Offset).DefaultIfEmpty(-1).Max() >= offset.Offset - 1,
                $"partition {offset.Partition}: committed {offset.Offset} is past what was consumed before the restart");
        }
        await WaitForZeroLagAsync(second, "accounting", ct);
        await before.DisposeAsync();
        await after.DisposeAsync();
    }

    [Fact]
    public async Task A_delivery_instance_cut_off_from_Redis_is_fenced_and_cannot_move_the_group_back_when_it_comes_back()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("ledger", partitions: 1);
        await _cluster.ProduceAsync("ledger", [.. Enumerable.Range(0, 20).Select(i => ((string?)"account", $"entry-{i}"))], cancellationToken: ct);
        // Instance A reaches Redis through a relay that can be cut; its consumer holds 5 records without answering.
        var redisPort = int.Parse(redis.ConnectionString.Split(',')[0].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        await using var cut = TcpRelay.Start("127.0.0.1", redisPort);
        var a = _cluster.StartDelivery(new Dictionary<string, string> { ["ConnectionStrings:redis"] = $"127.0.0.1:{cut.Port},abortConnect=false" });
        var subscribe = new Subscribe { Group = "books", Topic = "ledger", Window = 5, Start = StartPosition.Earliest };
        var zombie = await TestConsumer.StartAsync("zombie", a.Client, subscribe, _ => Verdict.Ignore, ct);
        await Wait.UntilAsync(() => zombie.Deliveries.Count == 5, TimeSpan.FromSeconds(20), () => $"{zombie.Deliveries.Count} deliveries to the zombie");

        // A loses Redis: its session and its lease run out (1 s), and instance B's consumer takes the partition and acks everything.
        cut.Pause();
        var b = _cluster.StartDelivery();
        var successor = await TestConsumer.StartAsync("successor", b.Client, subscribe, cancellationToken: ct);
        await Wait.UntilAsync(() => Committed("books", "ledger") == 20, TimeSpan.FromSeconds(30),
            () => $"the successor's commit of all 20 (committed {Committed("books", "ledger")}, {successor.Deliveries.Count} deliveries)");

        // A still believes it holds the partition: its consumer acks offsets 0-4, and A commits offset 5 under its old lease.
        await zombie.AckAsync([.. zombie.Deliveries.Select(d => d.DeliveryId)]);
        await Wait.UntilAsync(() => zombie.Partitions.Count == 0, TimeSpan.FromSeconds(20),
            () => $"the zombie told it holds nothing any more (it holds [{string.Join(",", zombie.Partitions)}])");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(20, Committed("books", "ledger"));
            await Task.Delay(100, ct);
        }
        Assert.All(successor.Deliveries, d => Assert.Equal(1, d.Attempt)); // first deliveries on B (A's were never acked in time)

        // Back in touch with Redis, A is an ordinary member again (its consumer now acks, since the partition may go to it)
        // and the group goes on from where B left it.
        zombie.Decide = _ => Verdict.Ack;
        cut.Resume();
        await _cluster.ProduceAsync("ledger", [("account", "entry-20")], cancellationToken: ct);
        await Wait.UntilAsync(() => Committed("books", "ledger") == 21, TimeSpan.FromSeconds(30), () => $"the group past entry-20 (committed {Committed("books", "ledger")})");
        await zombie.DisposeAsync();
        await successor.DisposeAsync();
    }

    private long Committed(string group, string topic) =>
        _cluster.Storage.FetchOffsets(new Contracts.Storage.FetchOffsetsRequest { Group = group, Topic = topic }).Offsets[0].Offset;

    private static async Task WaitForZeroLagAsync(DeliveryNode node, string group, CancellationToken cancellationToken)
    {
        long lag = -1;
        await Wait.UntilAsync(async () =>
        {
            var description = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<Apis.GroupDescription>(node.Http, $"/v1/groups/{group}", cancellationToken);
            lag = description!.Topics.Sum(t => t.Lag);
            return lag == 0;
        }, TimeSpan.FromSeconds(20), () => $"group {group} at lag 0 (lag {lag})");
    }
}
