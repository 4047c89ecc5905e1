using System.Buffers.Binary;
using System.Diagnostics;

namespace Broker.LoadGen.EndToEnd;

/// <summary>
/// A way to move records from a producer to a consumer: the broker (Ingest → Storage → Delivery) or the
/// baseline (Redis Streams XADD → XREADGROUP → XACK). Each run produces records and consumes them at the
/// same time, and measures every record's end-to-end latency from the send time written into its value.
/// </summary>
public interface IPubSubPath : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Prepares a fresh run (consumer subscribed and ready) over partitions of its own.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Produces <paramref name="records"/> as fast as the path takes them; done when all were consumed.</summary>
    Task<PubSubResult> RunMaxAsync(int records, CancellationToken cancellationToken);

    /// <summary>Produces <paramref name="rate"/> records a second for <paramref name="duration"/>; done when all were consumed.</summary>
    Task<PubSubResult> RunRateAsync(int rate, TimeSpan duration, CancellationToken cancellationToken);
}

/// <summary>One run: records consumed (distinct), from the first send to the last receipt, and each record's latency (Stopwatch ticks).</summary>
public sealed record PubSubResult(long Records, TimeSpan Elapsed, CpuReport Cpu, long[] Latencies, long Duplicates)
{
    public double RecordsPerSec => Records / Elapsed.TotalSeconds;

    public double PercentileMs(double q) => new RoundResult(Records, Elapsed, Cpu, Latencies).PercentileMs(q);
}

/// <summary>
/// Record values for latency: bytes 0-7 hold the send time (Stopwatch ticks), 8-11 the record's index in
/// the run, the rest is the workload's value. The consumer side tallies them.
/// </summary>
public sealed class LatencyTally
{
    private readonly long[] _latencies;
    private readonly bool[] _seen;
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _distinct;
    private long _duplicates;
    private long _lastReceipt;

    public LatencyTally(int records)
    {
        _latencies = new long[records];
        _seen = new bool[records];
        if (records == 0)
        {
            _all.SetResult();
        }
    }

    public Task All => _all.Task;
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long LastReceipt => Interlocked.Read(ref _lastReceipt);
    public long[] Latencies => _latencies;
    public long Distinct => Interlocked.Read(ref _distinct);

    public static byte[] Stamp(byte[] template, int index)
    {
        var value = new byte[Math.Max(template.Length, 12)];
        template.CopyTo(value, 0);
        BinaryPrimitives.WriteInt64LittleEndian(value, Stopwatch.GetTimestamp());
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(8), index);
        return value;
    }

    /// <summary>Counts one received value; called from the consumer's receive loop only.</summary>
    public void Received(ReadOnlySpan<byte> value)
    {
        var now = Stopwatch.GetTimestamp();
        var sent = BinaryPrimitives.ReadInt64LittleEndian(value);
        var index = BinaryPrimitives.ReadInt32LittleEndian(value[8..]);
        if (index < 0 || index >= _seen.Length)
        {
            throw new InvalidOperationException($"A consumed value names record {index}; the run has {_seen.Length}.");
        }
        if (_seen[index])
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }
        _seen[index] = true;
        _latencies[index] = now - sent;
        Interlocked.Exchange(ref _lastReceipt, now);
        if (Interlocked.Increment(ref _distinct) == _seen.Length)
        {
            _all.TrySetResult();
        }
    }
}

/// <summary>Paces a fixed-rate producer: how many records are due by now.</summary>
public sealed class Pacer(int rate, int total)
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public int Due => (int)Math.Min(total, Stopwatch.GetElapsedTime(_start).TotalSeconds * rate);

    /// <summary>Waits about a millisecond (the timer's grain) before looking again.</summary>
    public static Task TickAsync(CancellationToken cancellationToken) => Task.Delay(1, cancellationToken);
}
