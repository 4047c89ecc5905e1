using System.Buffers.Binary;
using Broker.Client.Producing;
using Broker.Client.Telemetry;
using Broker.Client.Tests.Hosting;
using Broker.Contracts.Storage;
using Broker.Testing;
using Grpc.Net.Client;

namespace Broker.Client.Tests.Producing;

/// <summary>The producer against real services on real sockets, with Ingest restarted under it.</summary>
[Collection(RedisCollection.Name)]
public sealed class ProducerTests(RedisFixture redis)
{
    [Fact]
    public async Task Keyed_records_produced_through_an_Ingest_restart_are_in_the_log_exactly_once_and_in_order_per_key()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("ledger", 4);
        const int records = 100_000;
        const int keys = 64;
        var failures = 0;
        long resends = 0;
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ClientTelemetry.Name && instrument.Name == "broker.client.producer.resends")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref resends, value));
        meters.Start();
        await using (var producer = new BrokerProducer<string, byte[]>(broker.ClientOptions, new ProducerOptions { DeliveryTimeout = TimeSpan.FromMinutes(1) }))
        {
            using var done = new CountdownEvent(records);
            var restart = Task.CompletedTask;
            for (var i = 0; i < records; i++)
            {
                // The value is the record's sequence number in the whole run; its key one of 64.
                var value = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(value, i);
                while (true)
                {
                    try
                    {
                        producer.Produce("ledger", new Message<string, byte[]> { Key = $"key-{i % keys}", Value = value }, report =>
                        {
                            if (!report.Delivered)
                            {
                                Interlocked.Increment(ref failures);
                            }
                            done.Signal();
                        });
                        break;
                    }
                    catch (ProduceException ex) when (ex.Error == ProduceError.QueueFull)
                    {
                        await Task.Delay(5);
                    }
                }
                if (i == records / 3)
                {
                    // Mid-stream: Ingest goes away with requests in flight, and comes back a moment later.
                    restart = broker.RestartIngestAsync(TimeSpan.FromMilliseconds(500));
                }
            }
            await restart;
            await producer.FlushAsync();
            Assert.True(done.Wait(TimeSpan.FromSeconds(30)));
        }
        Assert.Equal(0, failures);
        Assert.True(Interlocked.Read(ref resends) > 0, "the Ingest restart made the producer send nothing again: it did not hit the stream");

        using var channel = GrpcChannel.ForAddress(broker.StorageGrpc);
        var log = new LogService.LogServiceClient(channel);
        var seen = new HashSet<long>();
        for (var partition = 0; partition < 4; partition++)
        {
            var lastByKey = new Dictionary<string, long>();
            foreach (var record in await log.ReadAllAsync("ledger", partition))
            {
                var sequence = BinaryPrimitives.ReadInt64LittleEndian(record.Value.Span);
                Assert.True(seen.Add(sequence), $"record {sequence} is in the log twice");
                var key = System.Text.Encoding.UTF8.GetString(record.Key!.Value.Span);
                Assert.True(!lastByKey.TryGetValue(key, out var last) || last < sequence, $"{key}: {sequence} after {last}");
                lastByKey[key] = sequence;
            }
        }
        Assert.Equal(records, seen.Count);
    }

    [Fact]
    public async Task ProduceAsync_returns_the_partition_and_offset_the_key_chose_and_carries_headers_and_a_traceparent()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("orders", 3);
        // As OpenTelemetry listens once it is told the client's source name.
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == ClientTelemetry.Name,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        await using var producer = new BrokerProducer<string, string>(broker.ClientOptions);
        var first = await producer.ProduceAsync("orders", "customer-7", "one", new MessageHeaders { { "source", "test" } });
        var second = await producer.ProduceAsync("orders", "customer-7", "two");
        Assert.Equal("orders", first.Topic);
        Assert.Equal(Broker.Contracts.Partitioning.KafkaPartitioner.PartitionForKey("customer-7"u8, 3), first.Partition);
        Assert.Equal(first.Partition, second.Partition);
        Assert.Equal(first.Offset + 1, second.Offset);

        using var channel = GrpcChannel.ForAddress(broker.StorageGrpc);
        var stored = await new LogService.LogServiceClient(channel).ReadAllAsync("orders", first.Partition);
        Assert.Equal("one", System.Text.Encoding.UTF8.GetString(stored[0].Value.Span));
        Assert.Contains(stored[0].Headers, h => h.Name == "source");
        Assert.Contains(stored[0].Headers, h => h.Name == "traceparent");
    }

    [Fact]
    public async Task Bad_arguments_are_clear_exceptions_and_refusals_name_what_was_refused()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("small", 2);
        Assert.Throws<ArgumentException>(() => BrokerClientOptions.FromConnectionString("Ingest=not a url"));
        Assert.Throws<ArgumentException>(() => BrokerClientOptions.FromConnectionString("Kafka=http://localhost:9092"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BrokerProducer<string, string>(broker.ClientOptions, new ProducerOptions { BatchSize = 0 }));
        var noIngest = new BrokerClientOptions { Storage = broker.StorageHttp };
        Assert.Contains("IngestGrpc", Assert.Throws<InvalidOperationException>(() => new BrokerProducer<string, string>(noIngest)).Message, StringComparison.Ordinal);

        await using var producer = new BrokerProducer<string, string>(broker.ClientOptions);
        await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync("", "k", "v"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => producer.ProduceAsync("small", new Message<string, string> { Value = "v", Partition = -1 }));
        var missing = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("no-such-topic", "k", "v"));
        Assert.Equal(ProduceError.TopicNotFound, missing.Error);
        var outOfRange = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("small", new Message<string, string> { Value = "v", Partition = 2 }));
        Assert.Contains("has 2 partitions", outOfRange.Message, StringComparison.Ordinal);
        var tooBig = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("small", "k", new string('x', 2 * 1024 * 1024)));
        Assert.Equal(ProduceError.InvalidArgument, tooBig.Error);
        // The producer goes on after a refusal: the partition's later records are written.
        var after = await producer.ProduceAsync("small", "k", "fine");
        Assert.True(after.Offset >= 0);
    }
}
