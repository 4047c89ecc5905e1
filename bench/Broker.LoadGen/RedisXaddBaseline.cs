using System.Diagnostics;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// The baseline: what Dapr's pubsub.redis does per message, one XADD per record, here pipelined as hard
/// as StackExchange.Redis allows (a window of XADDs in flight on one multiplexer), round-robin over one
/// stream per partition. Its keys are deleted before and after each round.
/// </summary>
public sealed class RedisXaddBaseline(IConnectionMultiplexer redis, LoadGenOptions options, Workload workload, CpuSampler cpu)
{
    public const string Name = "redis-xadd-pipelined";

    private static readonly RedisValue s_field = "v";

    private readonly RedisKey[] _keys = [.. Enumerable.Range(0, options.Partitions).Select(p => (RedisKey)$"loadgen:{{baseline:{p}}}")];

    /// <summary>StackExchange.Redis takes no token: the round checks for cancellation once per window.</summary>
    public async Task<RoundResult> RunAsync(int records, CancellationToken cancellationToken)
    {
        await DeleteKeysAsync();
        var db = redis.GetDatabase();
        var window = new Task[Math.Min(options.Window, records)];
        var start = await cpu.SampleAsync();
        for (var i = 0; i < records; i++)
        {
            var slot = i % window.Length;
            if (slot == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (i >= window.Length)
            {
                // Replies come back in order, so the oldest slot is the next to finish: a true bounded window.
                await window[slot];
            }
            window[slot] = db.StreamAddAsync(_keys[i % _keys.Length], s_field, workload.Value(i));
        }
        await Task.WhenAll(window);
        var end = await cpu.SampleAsync();
        var elapsed = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp);

        var lengths = await Task.WhenAll(_keys.Select(k => db.StreamLengthAsync(k)));
        if (lengths.Sum() != records)
        {
            throw new InvalidOperationException($"The baseline streams hold {lengths.Sum()} entries; {records} were added.");
        }
        await DeleteKeysAsync();
        return new RoundResult(records, elapsed, CpuSample.Between(start, end), Latencies: null);
    }

    private Task<bool[]> DeleteKeysAsync() => Task.WhenAll(_keys.Select(k => redis.GetDatabase().KeyDeleteAsync(k)));
}
