using System.Diagnostics;
using Broker.Client;
using Broker.Client.Producing;

namespace Broker.LoadGen;

/// <summary>
/// ingest-client: the same records as ingest-grpc (keys <c>key-{i % 1000}</c>, the workload's values) through
/// Broker.Client's producer: <c>Produce</c> with a delivery callback for each record, the producer batching per
/// partition (--batch records' worth of bytes, or 5 ms), --concurrency batches in flight and as many records outstanding
/// as the hand-written stream's window holds. A record's latency runs from its accepted <c>Produce</c> to its callback,
/// what an application waits for. One producer for the run.
/// </summary>
public sealed class IngestClientProducer : IProducePath, IAsyncDisposable
{
    private readonly BrokerProducer<byte[], byte[]> _producer;
    private readonly Workload _workload;
    private readonly CpuSampler _cpu;
    private readonly LoadGenOptions _options;
    private readonly byte[][] _keys = [.. Enumerable.Range(0, IngestGrpcProducer.DistinctKeys).Select(k => System.Text.Encoding.UTF8.GetBytes($"key-{k}"))];

    public IngestClientProducer(LoadGenOptions options, Workload workload, CpuSampler cpu)
    {
        _options = options;
        _workload = workload;
        _cpu = cpu;
        Tally = new ProduceTally(options.Partitions);
        _producer = new BrokerProducer<byte[], byte[]>(new BrokerClientOptions { Storage = options.Rest, IngestGrpc = options.Ingest }, new ProducerOptions
        {
            // As the hand-written stream sends: about --batch records a request, --concurrency requests in flight, and no
            // more records outstanding than its window holds (past it Produce says the queue is full and the loop waits),
            // so that a record's latency is not time spent queued behind a flood the other path never builds.
            BatchSize = options.Batch * options.RecordBytes,
            Linger = TimeSpan.FromMilliseconds(options.LingerMs),
            MaxInFlightPerPartition = Math.Min(options.Concurrency, 5), // the most an idempotent producer may have
            MaxInFlight = options.Concurrency,
            BufferBytes = (long)options.Concurrency * options.Batch * (options.RecordBytes + 32),
        });
    }

    public ProduceTally Tally { get; }

    public async Task<RoundResult> RunAsync(int batchCount, CancellationToken cancellationToken)
    {
        var records = (int)Math.Min((long)batchCount * _options.Batch, _options.Records);
        var latencies = new long[records];
        var confirmed = 0L;
        Exception? failure = null;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = await _cpu.SampleAsync();
        for (var i = 0; i < records; i++)
        {
            var index = i;
            var sent = Stopwatch.GetTimestamp();
            var message = new Message<byte[], byte[]> { Key = _keys[i % _keys.Length], Value = _workload.Value(i) };
            while (true)
            {
                try
                {
                    _producer.Produce(_options.Topic, message, report =>
                    {
                        if (report.Error is { } error)
                        {
                            Interlocked.CompareExchange(ref failure, error, null);
                        }
                        else
                        {
                            latencies[index] = Stopwatch.GetTimestamp() - sent;
                            Tally.Add(report.Result.Partition, 1);
                        }
                        if (Interlocked.Increment(ref confirmed) == records)
                        {
                            done.TrySetResult();
                        }
                    });
                    break;
                }
                catch (ProduceException ex) when (ex.Error == ProduceError.QueueFull)
                {
                    // The producer's buffer bounds what is in flight: wait a moment for confirmations.
                    await Task.Delay(1, cancellationToken);
                    sent = Stopwatch.GetTimestamp();
                }
            }
        }
        await done.Task.WaitAsync(cancellationToken);
        var end = await _cpu.SampleAsync();
        if (failure is not null)
        {
            throw new InvalidOperationException($"The client's producer failed a record: {failure.Message}", failure);
        }
        return new RoundResult(records, Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp), CpuSample.Between(start, end), latencies);
    }

    public ValueTask DisposeAsync() => _producer.DisposeAsync();
}
