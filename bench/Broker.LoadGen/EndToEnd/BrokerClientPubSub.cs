using System.Diagnostics;
using Broker.Client;
using Broker.Client.Admin;
using Broker.Client.Consuming;
using Broker.Client.Producing;

namespace Broker.LoadGen.EndToEnd;

/// <summary>
/// The broker through Broker.Client, as an application writes it: the producer's <c>Produce</c> with a delivery
/// callback per record (batched per partition by the producer: --batch records' worth of bytes or 5 ms,
/// --concurrency batches in flight), and a consumer's <c>await foreach</c> over <c>ConsumeAsync</c> that acks each
/// record (window --consumer-window, concurrent mode). The same records, keys and fresh topic per run as the
/// hand-written <see cref="BrokerPubSub"/>, which it is compared with.
/// </summary>
public sealed class BrokerClientPubSub : IPubSubPath
{
    public const string PathName = "broker-client";
    private readonly LoadGenOptions _options;
    private readonly Workload _workload;
    private readonly CpuSampler _cpu;
    private readonly BrokerClientOptions _client;
    private readonly BrokerAdminClient _admin;
    private readonly BrokerProducer<byte[], byte[]> _producer;
    private readonly byte[][] _keys = [.. Enumerable.Range(0, 1000).Select(k => System.Text.Encoding.UTF8.GetBytes($"key-{k}"))];
    private readonly List<string> _topics = [];
    private string _topic = "";

    public BrokerClientPubSub(LoadGenOptions options, Workload workload, CpuSampler cpu)
    {
        _options = options;
        _workload = workload;
        _cpu = cpu;
        _client = new BrokerClientOptions { Storage = options.Rest, IngestGrpc = options.Ingest, DeliveryGrpc = options.Delivery };
        _admin = new BrokerAdminClient(_client);
        _producer = new BrokerProducer<byte[], byte[]>(_client, new ProducerOptions
        {
            BatchSize = options.Batch * options.RecordBytes,
            Linger = TimeSpan.FromMilliseconds(options.LingerMs),
            MaxInFlightPerPartition = Math.Min(options.Concurrency, 5), // the most an idempotent producer may have
            MaxInFlight = options.Concurrency,
            BufferBytes = (long)options.Concurrency * options.Batch * (options.RecordBytes + 32),
        });
    }

    public string Name => PathName;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _topic = $"{_options.Topic}-client-{_topics.Count}";
        await _admin.CreateTopicAsync(_topic, new TopicSettings { Partitions = _options.Partitions }, cancellationToken);
        _topics.Add(_topic);
    }

    public Task<PubSubResult> RunMaxAsync(int records, CancellationToken cancellationToken) =>
        RunAsync(records, async (produced, ct) =>
        {
            for (var i = 0; i < records; i++)
            {
                await ProduceAsync(i, produced, ct);
            }
        }, cancellationToken);

    public Task<PubSubResult> RunRateAsync(int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var records = (int)(rate * duration.TotalSeconds);
        return RunAsync(records, async (produced, ct) =>
        {
            var pacer = new Pacer(rate, records);
            var sent = 0;
            while (sent < records)
            {
                for (var due = pacer.Due; sent < due; sent++)
                {
                    await ProduceAsync(sent, produced, ct);
                }
                await Pacer.TickAsync(ct);
            }
        }, cancellationToken);
    }

    /// <summary>Hands one record to the producer; its callback reports a failure to <paramref name="produced"/>.</summary>
    private async ValueTask ProduceAsync(int index, Produced produced, CancellationToken cancellationToken)
    {
        var message = new Message<byte[], byte[]> { Key = _keys[index % _keys.Length], Value = LatencyTally.Stamp(_workload.Value(index), index) };
        while (true)
        {
            try
            {
                _producer.Produce(_topic, message, produced.Report);
                return;
            }
            catch (ProduceException ex) when (ex.Error == ProduceError.QueueFull)
            {
                // The producer's buffer bounds what is outstanding: wait a moment for confirmations.
                await Task.Delay(1, cancellationToken);
            }
        }
    }

    private async Task<PubSubResult> RunAsync(int records, Func<Produced, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var tally = new LatencyTally(records);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var consumer = new BrokerConsumer<byte[], byte[]>(_client, "loadgen", [_topic], new ConsumerOptions
        {
            Window = _options.ConsumerWindow,
            Mode = ConsumeMode.Concurrent,
            Start = StartPosition.Earliest,
        });
        var assignment = Stopwatch.StartNew();
        while (!consumer.Assignment.TryGetValue(_topic, out var partitions) || partitions.Count != _options.Partitions)
        {
            if (assignment.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"The consumer was not given {_topic}'s {_options.Partitions} partitions in 30 s.");
            }
            await Task.Delay(5, cancellationToken);
        }
        var consuming = Task.Run(async () =>
        {
            await foreach (var message in consumer.ConsumeAsync(stop.Token))
            {
                tally.Received(message.Value);
                await consumer.AckAsync(message);
            }
        }, CancellationToken.None);

        var start = await _cpu.SampleAsync();
        var produced = new Produced();
        await produce(produced, cancellationToken);
        await _producer.FlushAsync(cancellationToken);
        produced.ThrowIfFailed();
        await Task.WhenAny(tally.All, consuming).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        if (consuming.IsFaulted)
        {
            await consuming;
        }
        var end = await _cpu.SampleAsync();
        await stop.CancelAsync();
        try
        {
            await consuming;
        }
        catch (OperationCanceledException)
        {
        }
        return new PubSubResult(tally.Distinct, Stopwatch.GetElapsedTime(start.Timestamp, tally.LastReceipt), CpuSample.Between(start, end),
            tally.Latencies, tally.Duplicates);
    }

    /// <summary>The run's delivery callback: keeps the first failure, which fails the run.</summary>
    private sealed class Produced
    {
        private Exception? _failure;

        public void Report(DeliveryReport report)
        {
            if (report.Error is { } error)
            {
                Interlocked.CompareExchange(ref _failure, error, null);
            }
        }

        public void ThrowIfFailed()
        {
            if (Volatile.Read(ref _failure) is { } failure)
            {
                throw new InvalidOperationException($"The client's producer failed a record: {failure.Message}", failure);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _producer.DisposeAsync();
        foreach (var topic in _topics)
        {
            try
            {
                await _admin.DeleteTopicAsync(topic);
            }
            catch (BrokerAdminException)
            {
            }
        }
        _admin.Dispose();
    }
}
