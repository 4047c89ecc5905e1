using System.Text;
using Broker.Contracts.Ingest;
using Broker.Ingest.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Ingest.Tests.Produce;

[Collection(RedisCollection.Name)]
public sealed class ProduceGrpcTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private BrokerHosts _hosts = null!;

    public Task InitializeAsync()
    {
        _hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("grpc"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Hundred_thousand_keyed_records_over_one_stream_are_all_acked_dense_and_in_key_order()
    {
        const int total = 100_000;
        const int perRequest = 100;
        const int keys = 1_000;
        var ct = _timeout.Token;
        await _hosts.CreateTopicAsync("orders", partitions: 8);

        using var call = _hosts.Ingest.Produce(cancellationToken: ct);
        var acks = new Dictionary<ulong, ProduceResponse>();
        var reading = Task.Run(async () =>
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(ct))
            {
                acks.Add(response.RequestId, response);
            }
        }, ct);
        for (var r = 0; r < total / perRequest; r++)
        {
            var request = new ProduceRequest { RequestId = (ulong)r, Topic = "orders" };
            for (var i = r * perRequest; i < (r + 1) * perRequest; i++)
            {
                request.Records.Add(new ProduceRecord
                {
                    Key = ByteString.CopyFromUtf8($"customer-{i % keys}"),
                    Value = ByteString.CopyFromUtf8($"{i % keys}:{i / keys}"),
                });
            }
            await call.RequestStream.WriteAsync(request, ct);
        }
        await call.RequestStream.CompleteAsync();
        await reading;

        // Every request acked, in order, with one offset per record.
        Assert.Equal(total / perRequest, acks.Count);
        var keyPartition = new Dictionary<int, int>();
        foreach (var (id, ack) in acks)
        {
            Assert.Equal(0, ack.StatusCode);
            Assert.Equal(perRequest, ack.Offsets.Count);
            for (var n = 0; n < perRequest; n++)
            {
                var key = ((int)id * perRequest + n) % keys;
                var partition = ack.Offsets[n].Partition;
                Assert.Equal(keyPartition.TryAdd(key, partition) ? partition : keyPartition[key], partition);
            }
        }

        // Read back: dense offsets per partition, each key on one partition, each key's records in order.
        var seen = 0;
        var lastSeq = new Dictionary<int, int>();
        for (var p = 0; p < 8; p++)
        {
            var records = await _hosts.Storage.ReadAllAsync("orders", p, cancellationToken: ct);
            for (var i = 0; i < records.Count; i++)
            {
                Assert.Equal(i, records[i].Offset);
                var parts = Encoding.UTF8.GetString(records[i].Value.Span).Split(':');
                var (key, seq) = (int.Parse(parts[0]), int.Parse(parts[1]));
                Assert.Equal(keyPartition[key], p);
                Assert.True(seq > lastSeq.GetValueOrDefault(key, -1), $"key {key}: record {seq} after {lastSeq.GetValueOrDefault(key, -1)}");
                lastSeq[key] = seq;
                Assert.Contains(records[i].Headers, h => h.Name == "traceparent");
            }
            seen += records.Count;
        }
        Assert.Equal(total, seen);
        Assert.True(keyPartition.Values.Distinct().Count() > 1, "keys should spread over partitions");
    }

    [Fact]
    public async Task The_same_producer_sequence_sent_twice_is_written_once_with_the_same_offsets()
    {
        var ct = _timeout.Token;
        await _hosts.CreateTopicAsync("idem", partitions: 2);
        using var call = _hosts.Ingest.Produce(cancellationToken: ct);
        var request = new ProduceRequest { RequestId = 1, Topic = "idem", ProducerId = 99, BaseSequence = 0, Partition = 1 };
        request.Records.Add(new ProduceRecord { Value = ByteString.CopyFromUtf8("a") });
        request.Records.Add(new ProduceRecord { Value = ByteString.CopyFromUtf8("b") });

        await call.RequestStream.WriteAsync(request, ct);
        await call.RequestStream.WriteAsync(request, ct);
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync(ct).ToListAsync(ct);

        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => Assert.Equal(0, r.StatusCode));
        Assert.Equal(responses[0].Offsets, responses[1].Offsets);
        Assert.Equal(["a", "b"], (await _hosts.Storage.ReadAllAsync("idem", 1, cancellationToken: ct)).Select(r => Encoding.UTF8.GetString(r.Value.Span)));
    }

    [Fact]
    public async Task Refused_requests_get_their_status_and_the_stream_goes_on()
    {
        var ct = _timeout.Token;
        await _hosts.CreateTopicAsync("mixed", partitions: 1);
        using var call = _hosts.Ingest.Produce(cancellationToken: ct);
        await call.RequestStream.WriteAsync(new ProduceRequest { RequestId = 1, Topic = "no-such-topic", Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("x") } } }, ct);
        await call.RequestStream.WriteAsync(new ProduceRequest { RequestId = 2, Topic = "mixed" }, ct);
        await call.RequestStream.WriteAsync(new ProduceRequest { RequestId = 3, Topic = "mixed", Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("x"), Partition = 4 } } }, ct);
        await call.RequestStream.WriteAsync(new ProduceRequest { RequestId = 4, Topic = "mixed", ProducerId = 1, Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("x") } } }, ct);
        await call.RequestStream.WriteAsync(new ProduceRequest { RequestId = 5, Topic = "mixed", Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("ok") } } }, ct);
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync(ct).ToListAsync(ct);

        Assert.Equal([1UL, 2, 3, 4, 5], responses.Select(r => r.RequestId));
        Assert.Equal((int)StatusCode.NotFound, responses[0].StatusCode);
        Assert.Contains("does not exist", responses[0].StatusMessage, StringComparison.Ordinal);
        Assert.Equal((int)StatusCode.InvalidArgument, responses[1].StatusCode);
        Assert.Contains("at least one record", responses[1].StatusMessage, StringComparison.Ordinal);
        Assert.Equal((int)StatusCode.InvalidArgument, responses[2].StatusCode);
        Assert.Contains("partitions 0 to 0", responses[2].StatusMessage, StringComparison.Ordinal);
        Assert.Equal((int)StatusCode.InvalidArgument, responses[3].StatusCode);
        Assert.Contains("base_sequence", responses[3].StatusMessage, StringComparison.Ordinal);
        Assert.Equal(0, responses[4].StatusCode);
        var ends = await _hosts.Storage.EndOffsetsAsync("mixed");
        Assert.Equal(new long[] { 1 }, ends);
        // A record sent without a key is stored without one (not with an empty key).
        Assert.Null(Assert.Single(await _hosts.Storage.ReadAllAsync("mixed", 0, cancellationToken: ct)).Key);
    }
}
