using System.Diagnostics;
using System.Text;
using Broker.Contracts.Delivery;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class TtlAndTracingTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private BrokerCluster _cluster = null!;
    private DeliveryNode _node = null!;

    public Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("ttl"));
        _node = _cluster.StartDelivery();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Records_past_the_topic_ttl_or_their_own_are_skipped_never_delivered_and_the_group_moves_past_them()
    {
        var ct = _timeout.Token;
        // Stale records carry timestamps from before the ttl (a producer may set its own); the fresh ones have a minute,
        // so a slow start on a loaded machine cannot expire them too.
        await _cluster.CreateTopicAsync("alerts", partitions: 1, new { MessageTtlMs = 60_000 });
        var longAgo = DateTimeOffset.UtcNow.AddMinutes(-2);
        await _cluster.ProduceAsync("alerts", [(null, "stale-1"), (null, "stale-2")], cancellationToken: ct, timestamp: longAgo);
        await _cluster.ProduceAsync("alerts", [(null, "own-ttl-passed")], headers: [("ttl-ms", "1")], cancellationToken: ct, timestamp: DateTimeOffset.UtcNow.AddSeconds(-1));
        await _cluster.ProduceAsync("alerts", [(null, "fresh-1"), (null, "fresh-2")], cancellationToken: ct);
        await _cluster.ProduceAsync("alerts", [(null, "own-ttl-long")], headers: [("ttl-ms", "600000")], cancellationToken: ct);

        var consumer = await TestConsumer.StartAsync("pager", _node.Client,
            new Subscribe { Group = "pager", Topic = "alerts", Window = 10, Start = StartPosition.Earliest }, cancellationToken: ct);
        await Wait.UntilAsync(() => consumer.Deliveries.Count >= 3, TimeSpan.FromSeconds(10), () => $"{consumer.Deliveries.Count} deliveries");
        await Wait.UntilAsync(() => Committed("pager", "alerts") == 6, TimeSpan.FromSeconds(10), () => $"committed {Committed("pager", "alerts")} of 6");
        Assert.Equal(["fresh-1", "fresh-2", "own-ttl-long"], consumer.Deliveries.Select(d => d.Value));
        await consumer.DisposeAsync();
    }

    [Fact]
    public async Task A_delivery_continues_the_producers_trace_and_hands_its_own_span_to_the_consumer()
    {
        var ct = _timeout.Token;
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Broker.Ingest" or "Broker.Delivery",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                {
                    spans.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await _cluster.CreateTopicAsync("traced", partitions: 1);
        await _cluster.ProduceAsync("traced", [("k", "v")], cancellationToken: ct);
        var stored = (await _cluster.Storage.ReadAsync(new Contracts.Storage.ReadRequest { Topic = "traced", Partition = 0, Offset = 0, MaxBytes = 1 << 20 }, cancellationToken: ct)).Batches;
        string producerTrace = "";
        foreach (var record in Contracts.Batches.RecordBatch.Validate(stored[0].Memory).GetRecords())
        {
            producerTrace = Encoding.ASCII.GetString(record.Headers.Single(h => h.Name == "traceparent").Value.Span);
        }

        var consumer = await TestConsumer.StartAsync("tracer", _node.Client,
            new Subscribe { Group = "tracer", Topic = "traced", Window = 10, Start = StartPosition.Earliest }, cancellationToken: ct);
        await Wait.UntilAsync(() => !consumer.Deliveries.IsEmpty, TimeSpan.FromSeconds(10), () => "the record");
        var delivered = consumer.Deliveries.Single().Record.Headers.Single(h => h.Name == "traceparent").Value.ToStringUtf8();
        Activity? deliverSpan = null;
        await Wait.UntilAsync(() =>
        {
            lock (spans)
            {
                deliverSpan = spans.FirstOrDefault(s => s.OperationName == "deliver traced");
            }
            return deliverSpan is not null;
        }, TimeSpan.FromSeconds(10), () => "the delivery span to end with the ack");

        var producer = ActivityContext.Parse(producerTrace, null);
        var consumerParent = ActivityContext.Parse(delivered, null);
        // One trace from producer to consumer: the delivery span is the producer's child, the consumer's parent.
        Assert.Equal(producer.TraceId, consumerParent.TraceId);
        Assert.Equal(producer.TraceId, deliverSpan!.TraceId);
        Assert.Equal(producer.SpanId, deliverSpan.ParentSpanId);
        Assert.Equal(deliverSpan.SpanId, consumerParent.SpanId);
        Assert.Equal(ActivityKind.Consumer, deliverSpan.Kind);
        Assert.Equal("tracer", deliverSpan.GetTagItem("messaging.consumer.group.name"));
        await consumer.DisposeAsync();
    }

    private long Committed(string group, string topic) =>
        _cluster.Storage.FetchOffsets(new Contracts.Storage.FetchOffsetsRequest { Group = group, Topic = topic }).Offsets.Sum(o => Math.Max(0, o.Offset));
}
