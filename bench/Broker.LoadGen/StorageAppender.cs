using System.Diagnostics;
using Broker.Contracts.Storage;

namespace Broker.LoadGen;

/// <summary>
/// The broker path: pre-built batches appended through Storage's gRPC Append with a fixed number in
/// flight, round-robin over the topic's partitions, each append's latency kept. Every answer is checked
/// (record count, not a duplicate, offsets dense per partition as far as this run can tell).
/// </summary>
public sealed class StorageAppender(IReadOnlyList<LogService.LogServiceClient> clients, LoadGenOptions options, Workload workload, CpuSampler cpu)
    : IProducePath
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Records this process appended to each partition, warm-up included.</summary>
    public ProduceTally Tally { get; } = new(options.Partitions);

    public async Task<RoundResult> RunAsync(int batchCount, CancellationToken cancellationToken)
    {
        var latencies = new long[batchCount];
        var next = -1;
        var records = 0L;

        async Task Worker(LogService.LogServiceClient client)
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= batchCount)
                {
                    return;
                }
                var partition = i % options.Partitions;
                var request = new AppendRequest { Topic = options.Topic, Partition = partition, Batch = workload.Batches[i] };
                var started = Stopwatch.GetTimestamp();
                var response = await client.AppendAsync(request, deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);
                latencies[i] = Stopwatch.GetTimestamp() - started;
                var count = workload.BatchCounts[i];
                if (response.Duplicate || response.RecordCount != count || response.EndOffset < response.BaseOffset + count)
                {
                    throw new InvalidOperationException(
                        $"Append {i} to partition {partition} answered {response}; expected {count} new records.");
                }
                Tally.Add(partition, count);
                Interlocked.Add(ref records, count);
            }
        }

        var start = await cpu.SampleAsync();
        var workers = new Task[Math.Min(options.Concurrency, batchCount)];
        for (var w = 0; w < workers.Length; w++)
        {
            var client = clients[w % clients.Count];
            workers[w] = Task.Run(() => Worker(client), cancellationToken);
        }
        await Task.WhenAll(workers);
        var end = await cpu.SampleAsync();
        return new RoundResult(records, Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp), CpuSample.Between(start, end), latencies);
    }
}
