using Broker.Contracts.Delivery;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class ConsumerGroupTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private BrokerCluster _cluster = null!;

    public Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("groups"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Two_groups_of_three_each_get_every_record_and_no_record_reaches_two_live_members()
    {
        const int total = 30_000;
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("orders", partitions: 6);
        // Two Delivery instances share the groups, as they would behind a load balancer.
        var nodes = new[] { _cluster.StartDelivery(), _cluster.StartDelivery() };
        var consumers = new List<(string Group, TestConsumer Consumer)>();
        foreach (var group in new[] { "billing", "shipping" })
        {
            for (var i = 0; i < 3; i++)
            {
                var subscribe = new Subscribe { Group = group, Topic = "orders", Window = 200, Start = StartPosition.Earliest, ConsumerName = $"{group}-{i}" };
                consumers.Add((group, await TestConsumer.StartAsync($"{group}-{i}", nodes[i % 2].Client, subscribe, cancellationToken: ct)));
            }
        }
        // Production starts once each group has settled on two partitions per consumer.
        await Wait.UntilAsync(() => consumers.All(c => c.Consumer.Partitions.Count == 2), TimeSpan.FromSeconds(30),
            () => string.Join("; ", consumers.Select(c => $"{c.Consumer.Name}: [{string.Join(",", c.Consumer.Partitions)}]")));

        var produced = await _cluster.ProduceAsync("orders",
            [.. Enumerable.Range(0, total).Select(i => ((string?)$"customer-{i % 500}", $"order-{i}"))], cancellationToken: ct);
        Assert.Equal(6, produced.Select(o => o.Partition).Distinct().Count());

        await Wait.UntilAsync(() => consumers.Sum(c => c.Consumer.Deliveries.Count) >= 2 * total, TimeSpan.FromSeconds(90),
            () => $"{consumers.Sum(c => c.Consumer.Deliveries.Count)} of {2 * total} deliveries");

        foreach (var group in consumers.GroupBy(c => c.Group))
        {
            var deliveries = group.SelectMany(c => c.Consumer.Deliveries).ToList();
            // Every record, each exactly once: all members lived throughout, so a second delivery would be a record given to two of them.
            Assert.Equal(total, deliveries.Count);
            Assert.Equal(produced.Order(), deliveries.Select(d => (d.Partition, d.Offset)).Order());
            // Inside the group each partition went to one member only.
            foreach (var partition in deliveries.GroupBy(d => d.Partition))
            {
                Assert.Single(partition.Select(d => d.Consumer).Distinct());
            }
        }
        Assert.All(consumers, c => Assert.Empty(c.Consumer.AckErrors));
        foreach (var (_, consumer) in consumers)
        {
            await consumer.DisposeAsync();
        }
    }
}
