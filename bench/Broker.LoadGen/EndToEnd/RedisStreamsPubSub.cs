using System.Diagnostics;
using StackExchange.Redis;

namespace Broker.LoadGen.EndToEnd;

/// <summary>
/// The baseline: Dapr's pubsub.redis pattern on Redis Streams. The producer XADDs one entry per record
/// (pipelined, a window in flight); one consumer of a consumer group reads with XREADGROUP ... BLOCK (on a
/// connection of its own, as a blocking read needs one) up to --consumer-window entries at a time from the
/// partitions' streams, and XACKs each entry after handling it, as Dapr acks each message.
/// </summary>
public sealed class RedisStreamsPubSub(IConnectionMultiplexer redis, LoadGenOptions options, Workload workload, CpuSampler cpu) : IPubSubPath
{
    public const string PathName = "redis-streams-xadd-xreadgroup-xack";
    private const string Group = "loadgen";
    private static readonly RedisValue s_field = "v";

    private readonly RedisKey[] _keys = [.. Enumerable.Range(0, options.Partitions).Select(p => (RedisKey)$"loadgen:{{e2e:{p}}}")];
    private ConnectionMultiplexer? _reader;

    public string Name => PathName;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        foreach (var key in _keys)
        {
            await db.KeyDeleteAsync(key);
            await db.StreamCreateConsumerGroupAsync(key, Group, StreamPosition.NewMessages, createStream: true);
        }
        if (_reader is null)
        {
            // RESP2, so XREADGROUP answers the array of [stream, entries] pairs parsed below (RESP3 makes it a map).
            var readerOptions = ConfigurationOptions.Parse(options.Redis);
            readerOptions.Protocol = RedisProtocol.Resp2;
            _reader = await ConnectionMultiplexer.ConnectAsync(readerOptions);
        }
    }

    public Task<PubSubResult> RunMaxAsync(int records, CancellationToken cancellationToken) =>
        RunAsync(records, async (tally, ct) =>
        {
            var db = redis.GetDatabase();
            var window = new Task[Math.Min(options.Window, records)];
            for (var i = 0; i < records; i++)
            {
                var slot = i % window.Length;
                if (i >= window.Length)
                {
                    await window[slot];
                }
                window[slot] = db.StreamAddAsync(_keys[i % _keys.Length], s_field, LatencyTally.Stamp(workload.Value(i), i));
            }
            await Task.WhenAll(window);
        }, cancellationToken);

    public Task<PubSubResult> RunRateAsync(int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var records = (int)(rate * duration.TotalSeconds);
        return RunAsync(records, async (tally, ct) =>
        {
            var db = redis.GetDatabase();
            var pacer = new Pacer(rate, records);
            var sent = 0;
            var pending = new List<Task>();
            while (sent < records)
            {
                var due = pacer.Due;
                for (; sent < due; sent++)
                {
                    pending.Add(db.StreamAddAsync(_keys[sent % _keys.Length], s_field, LatencyTally.Stamp(workload.Value(sent), sent)));
                }
                await Pacer.TickAsync(ct);
            }
            await Task.WhenAll(pending);
        }, cancellationToken);
    }

    private async Task<PubSubResult> RunAsync(int records, Func<LatencyTally, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var tally = new LatencyTally(records);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var start = await cpu.SampleAsync();
        var consuming = ConsumeAsync(tally, stop.Token);
        await produce(tally, cancellationToken);
        await Task.WhenAny(tally.All, consuming).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        await stop.CancelAsync();
        await consuming;
        var end = await cpu.SampleAsync();
        return new PubSubResult(tally.Distinct, Stopwatch.GetElapsedTime(start.Timestamp, tally.LastReceipt), CpuSample.Between(start, end),
            tally.Latencies, tally.Duplicates);
    }

    private async Task ConsumeAsync(LatencyTally tally, CancellationToken cancellationToken)
    {
        var reader = _reader!.GetDatabase();
        var acker = redis.GetDatabase();
        var args = new List<object> { "GROUP", Group, "loadgen-consumer", "COUNT", options.ConsumerWindow, "BLOCK", 100, "STREAMS" };
        args.AddRange(_keys.Select(k => (object)k.ToString()));
        args.AddRange(_keys.Select(_ => (object)">"));
        var acks = new List<Task>();
        while (!cancellationToken.IsCancellationRequested && !tally.All.IsCompleted)
        {
            var result = await reader.ExecuteAsync("XREADGROUP", args);
            if (result.IsNull)
            {
                continue;
            }
            foreach (var stream in (RedisResult[])result!)
            {
                var parts = (RedisResult[])stream!;
                var key = (RedisKey)(string)parts[0]!;
                foreach (var entry in (RedisResult[])parts[1]!)
                {
                    var fields = (RedisResult[])entry!;
                    var id = (RedisValue)(string)fields[0]!;
                    var values = (RedisResult[])fields[1]!;
                    tally.Received(((byte[])values[1]!).AsSpan());
                    acks.Add(acker.StreamAcknowledgeAsync(key, Group, id));
                }
            }
            if (acks.Count > 10_000)
            {
                await Task.WhenAll(acks);
                acks.Clear();
            }
        }
        await Task.WhenAll(acks);
    }

    public async ValueTask DisposeAsync()
    {
        var db = redis.GetDatabase();
        foreach (var key in _keys)
        {
            await db.KeyDeleteAsync(key);
        }
        if (_reader is not null)
        {
            await _reader.DisposeAsync();
        }
    }
}
