using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Delivery.Apis;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class HttpPollTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private BrokerCluster _cluster = null!;
    private DeliveryNode _node = null!;

    public Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("http"));
        _node = _cluster.StartDelivery();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Records_are_polled_acked_and_nacked_over_http_and_the_group_shows_no_lag_after()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("events", partitions: 2);
        await _cluster.ProduceAsync("events",
            [.. Enumerable.Range(0, 10).Select(i => ((string?)$"device-{i % 3}", $$"""{"reading":{{i}}}"""))], cancellationToken: ct);

        var polled = new List<PolledRecord>();
        while (polled.Count < 10)
        {
            var page = await PollAsync(new { consumerId = "worker-1", start = "earliest", waitMs = 2000, maxRecords = 4 }, ct);
            Assert.InRange(page.Records.Count, 1, 4);
            polled.AddRange(page.Records);
        }
        Assert.Equal(10, polled.Select(r => (r.Partition, r.Offset)).Distinct().Count());
        Assert.All(polled, r =>
        {
            Assert.Equal(1, r.Attempt);
            Assert.StartsWith("device-", r.Key);
            Assert.Null(r.ValueBase64);
            // JSON values come back as JSON, not as a string.
            using var value = JsonDocument.Parse(JsonSerializer.Serialize(r.Value));
            Assert.Equal(JsonValueKind.Object, value.RootElement.ValueKind);
            Assert.Contains("traceparent", r.Headers.Keys);
        });

        var nacked = polled[0];
        using (var acks = await _node.Http.PostAsJsonAsync("/v1/groups/dashboard/topics/events/acks", new
        {
            ack = polled.Skip(1).Select(r => r.DeliveryId),
            nack = new[] { new { deliveryId = nacked.DeliveryId, error = "screen was off" } },
        }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, acks.StatusCode);
            Assert.Equal(new AckResponse(9, 1), await acks.Content.ReadFromJsonAsync<AckResponse>(ct));
        }

        var again = await PollAsync(new { consumerId = "worker-1", waitMs = 5000 }, ct);
        var retry = Assert.Single(again.Records);
        Assert.Equal((nacked.Partition, nacked.Offset, 2), (retry.Partition, retry.Offset, retry.Attempt));
        using (var ack = await _node.Http.PostAsJsonAsync("/v1/groups/dashboard/topics/events/acks", new { ack = new[] { retry.DeliveryId } }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        }

        GroupDescription? group = null;
        await Wait.UntilAsync(async () =>
        {
            group = await _node.Http.GetFromJsonAsync<GroupDescription>("/v1/groups/dashboard", ct);
            return group!.Topics.Single().Lag == 0;
        }, TimeSpan.FromSeconds(10), () => $"lag 0, got {JsonSerializer.Serialize(group)}");
        var events = group!.Topics.Single();
        Assert.Equal("events", events.Topic);
        Assert.Equal(10, events.Partitions.Sum(p => p.CommittedOffset));
        Assert.Equal("worker-1", Assert.Single(events.Members).Name);
        Assert.All(events.Partitions, p => Assert.Equal(events.Members[0].MemberId, p.Owner));
    }

    [Fact]
    public async Task Binary_values_and_keys_come_back_as_base64()
    {
        var ct = _timeout.Token;
        await _cluster.CreateTopicAsync("blobs", partitions: 1);
        await using (var producer = new Broker.Client.Producing.BrokerProducer<byte[], byte[]>(_cluster.ClientOptions))
        {
            await producer.ProduceAsync("blobs", [0xc3, 0x28], [0xff, 0x00, 0x7f], cancellationToken: ct);
            await producer.ProduceAsync("blobs", "plain"u8.ToArray(), "not json"u8.ToArray(), cancellationToken: ct);
        }
        var page = await PollAsync(new { start = "earliest", waitMs = 5000 }, ct, group: "archive", topic: "blobs");
        Assert.Equal(2, page.Records.Count);
        var binary = page.Records[0];
        Assert.Null(binary.Key);
        Assert.Equal([0xc3, 0x28], Convert.FromBase64String(binary.KeyBase64!));
        Assert.Null(binary.Value);
        Assert.Equal([0xff, 0x00, 0x7f], Convert.FromBase64String(binary.ValueBase64!));
        var text = page.Records[1];
        Assert.Equal("plain", text.Key);
        Assert.Equal("not json"u8.ToArray(), Convert.FromBase64String(text.ValueBase64!));
    }

    private async Task<PollResponse> PollAsync(object body, CancellationToken cancellationToken, string group = "dashboard", string topic = "events")
    {
        using var response = await _node.Http.PostAsJsonAsync($"/v1/groups/{group}/topics/{topic}/poll", body, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<PollResponse>(cancellationToken))!;
    }
}
