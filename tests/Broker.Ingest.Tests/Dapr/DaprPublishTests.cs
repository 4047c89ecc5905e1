using System.Text;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Ingest.Tests.Hosting;
using Broker.Testing;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Grpc.Net.Client;

namespace Broker.Ingest.Tests.Dapr;

/// <summary>The real Dapr SDK's DaprClient, pointed at Ingest as it would be at a sidecar, publishes to the broker.</summary>
[Collection(RedisCollection.Name)]
public sealed class DaprPublishTests(RedisFixture redis) : IAsyncLifetime
{
    private BrokerHosts _hosts = null!;
    private DaprClient _dapr = null!;

    public Task InitializeAsync()
    {
        _hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("dapr"));
        _dapr = Client(_hosts);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dapr.Dispose();
        await _hosts.DisposeAsync();
    }

    private static DaprClient Client(BrokerHosts hosts) => new DaprClientBuilder()
        .UseGrpcEndpoint(hosts.IngestAddress.ToString())
        .UseGrpcChannelOptions(new GrpcChannelOptions { HttpHandler = hosts.IngestHandler })
        .Build();

    public sealed record Order(string Id, decimal Total);

    [Fact]
    public async Task A_published_object_lands_wrapped_in_a_cloud_event_in_a_topic_made_on_demand()
    {
        await _dapr.PublishEventAsync("pubsub", "orders", new Order("o-1", 12.5m), new Dictionary<string, string> { ["partitionKey"] = "customer-7" });

        var described = await _hosts.Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = "orders" });
        Assert.Equal(4, described.Partitions.Count); // Ingest:Dapr:TopicPartitions
        var record = await SingleRecordAsync("orders");
        Assert.Equal("customer-7", Encoding.UTF8.GetString(record.Key!.Value.Span));
        using var cloudEvent = JsonDocument.Parse(record.Value);
        var e = cloudEvent.RootElement;
        Assert.Equal("1.0", e.GetProperty("specversion").GetString());
        Assert.Equal("com.dapr.event.sent", e.GetProperty("type").GetString());
        Assert.Equal("orders", e.GetProperty("topic").GetString());
        Assert.Equal("pubsub", e.GetProperty("pubsubname").GetString());
        Assert.Equal("application/json", e.GetProperty("datacontenttype").GetString());
        Assert.Equal("o-1", e.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal(12.5m, e.GetProperty("data").GetProperty("total").GetDecimal());
        Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _));
        Assert.Equal("broker", e.GetProperty("source").GetString());
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", e.GetProperty("traceparent").GetString());
        Assert.True(DateTimeOffset.TryParse(e.GetProperty("time").GetString(), out _));
        Assert.False(e.TryGetProperty("expiration", out _));
    }

    [Fact]
    public async Task Raw_payloads_time_to_live_and_cloud_event_overrides_are_honoured()
    {
        await _dapr.PublishEventAsync("pubsub", "raw", new Order("o-2", 1m), new Dictionary<string, string> { ["rawPayload"] = "true" });
        var raw = await SingleRecordAsync("raw");
        Assert.Equal("""{"id":"o-2","total":1}""", Encoding.UTF8.GetString(raw.Value));

        await _dapr.PublishEventAsync("pubsub", "expiring", "hello", new Dictionary<string, string>
        {
            ["ttlInSeconds"] = "30",
            ["cloudevent.id"] = "my-id",
            ["cloudevent.source"] = "checkout",
            ["cloudevent.type"] = "order.placed",
            ["cloudevent.subject"] = "o-3",
        });
        var expiring = await SingleRecordAsync("expiring");
        Assert.Equal("30000", Encoding.ASCII.GetString(expiring.Headers.Single(h => h.Name == "ttl-ms").Value.Span));
        using var cloudEvent = JsonDocument.Parse(expiring.Value);
        var e = cloudEvent.RootElement;
        Assert.Equal(("my-id", "checkout", "order.placed", "o-3"),
            (e.GetProperty("id").GetString(), e.GetProperty("source").GetString(), e.GetProperty("type").GetString(), e.GetProperty("subject").GetString()));
        var time = DateTimeOffset.Parse(e.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var expiration = DateTimeOffset.Parse(e.GetProperty("expiration").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromSeconds(30), expiration - time);
        Assert.Equal("hello", e.GetProperty("data").GetString());

        var refused = await Assert.ThrowsAsync<DaprException>(() =>
            _dapr.PublishEventAsync("pubsub", "expiring", "x", new Dictionary<string, string> { ["ttlInSeconds"] = "soon" }));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(refused.InnerException).StatusCode);
    }

    [Fact]
    public async Task A_bulk_publish_writes_every_entry()
    {
        var result = await _dapr.BulkPublishEventAsync("pubsub", "bulk", Enumerable.Range(0, 10).Select(i => new Order($"b-{i}", i)).ToList());
        Assert.Empty(result.FailedEntries);
        var records = await AllRecordsAsync("bulk");
        Assert.Equal(10, records.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"b-{i}").Order(),
            records.Select(r => JsonDocument.Parse(r.Value).RootElement.GetProperty("data").GetProperty("id").GetString()).Order());
    }

    [Fact]
    public async Task With_topics_on_demand_off_a_publish_to_a_missing_topic_names_it_and_other_dapr_methods_are_unimplemented()
    {
        await using var hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("dapr-strict"), new Dictionary<string, string> { ["Ingest:Dapr:CreateTopics"] = "false" });
        using var dapr = Client(hosts);
        var missing = await Assert.ThrowsAsync<DaprException>(() => dapr.PublishEventAsync("pubsub", "nowhere", new Order("x", 1m)));
        var status = Assert.IsType<RpcException>(missing.InnerException);
        Assert.Equal(StatusCode.NotFound, status.StatusCode);
        Assert.Contains("'nowhere'", status.Status.Detail, StringComparison.Ordinal);

        var state = await Assert.ThrowsAsync<DaprException>(() => dapr.GetStateAsync<string>("store", "key"));
        Assert.Equal(StatusCode.Unimplemented, Assert.IsType<RpcException>(state.InnerException).StatusCode);
    }

    private async Task<List<(ReadOnlyMemory<byte>? Key, byte[] Value, IReadOnlyList<Broker.Contracts.Batches.RecordHeader> Headers)>> AllRecordsAsync(string topic)
    {
        var described = await _hosts.Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic });
        var records = new List<(ReadOnlyMemory<byte>?, byte[], IReadOnlyList<Broker.Contracts.Batches.RecordHeader>)>();
        for (var p = 0; p < described.Partitions.Count; p++)
        {
            foreach (var record in await _hosts.Storage.ReadAllAsync(topic, p))
            {
                records.Add((record.Key, record.Value.ToArray(), record.Headers));
            }
        }
        return records;
    }

    private async Task<(ReadOnlyMemory<byte>? Key, byte[] Value, IReadOnlyList<Broker.Contracts.Batches.RecordHeader> Headers)> SingleRecordAsync(string topic) =>
        Assert.Single(await AllRecordsAsync(topic));
}
