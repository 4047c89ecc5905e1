using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Broker.Contracts.Ingest;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.LoadGen;

/// <summary>
/// ingest-grpc: one bidi <c>ProduceService.Produce</c> stream per client (connection), each with a window of
/// <c>--concurrency</c> unacknowledged requests of <c>--batch</c> records (keys <c>key-{i % 1000}</c>, so
/// Ingest spreads them over the partitions by murmur2). A request's latency runs from its write to its
/// response. Every response is checked: OK with one offset per record, or RESOURCE_EXHAUSTED, which is
/// counted and sent again after retry_after_ms (a refused request wrote nothing); anything else fails the run.
/// </summary>
public sealed class IngestGrpcProducer : IProducePath
{
    public const int DistinctKeys = 1000;

    /// <summary>A stream that answers nothing for this long while requests are in flight is stuck.</summary>
    private static readonly TimeSpan s_stall = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<ProduceService.ProduceServiceClient> _clients;
    private readonly LoadGenOptions _options;
    private readonly Workload _workload;
    private readonly CpuSampler _cpu;
    private readonly ProduceRequest[] _requests;
    private long _requestIds;

    public IngestGrpcProducer(IReadOnlyList<ProduceService.ProduceServiceClient> clients, LoadGenOptions options, Workload workload, CpuSampler cpu)
    {
        _clients = clients;
        _options = options;
        _workload = workload;
        _cpu = cpu;
        Tally = new ProduceTally(options.Partitions);

        // Built before anything is timed; keys and values are shared, wrapped (not copied) byte strings.
        ByteString[] keys = [.. Enumerable.Range(0, DistinctKeys).Select(k => ByteString.CopyFromUtf8($"key-{k}"))];
        ByteString[] values = [.. workload.Values.Select(v => UnsafeByteOperations.UnsafeWrap(v))];
        _requests = new ProduceRequest[workload.BatchCount];
        for (var b = 0; b < _requests.Length; b++)
        {
            var request = new ProduceRequest { Topic = options.Topic };
            var (first, end) = workload.RecordsOf(b);
            for (var i = first; i < end; i++)
            {
                request.Records.Add(new ProduceRecord { Key = keys[i % keys.Length], Value = values[i % values.Length] });
            }
            _requests[b] = request;
        }
    }

    public ProduceTally Tally { get; }

    public async Task<RoundResult> RunAsync(int batchCount, CancellationToken cancellationToken)
    {
        var latencies = new long[batchCount];
        var next = -1;
        var records = 0L;
        int TakeNext()
        {
            var i = Interlocked.Increment(ref next);
            return i < batchCount ? i : -1;
        }
        void Acked(int index, long latency)
        {
            latencies[index] = latency;
            Interlocked.Add(ref records, _workload.BatchCounts[index]);
        }

        var start = await _cpu.SampleAsync();
        var streams = new Task[Math.Min(_clients.Count, batchCount)];
        for (var s = 0; s < streams.Length; s++)
        {
            var client = _clients[s];
            streams[s] = Task.Run(() => RunStreamAsync(client, TakeNext, Acked, cancellationToken), cancellationToken);
        }
        await Task.WhenAll(streams);
        var end = await _cpu.SampleAsync();
        return new RoundResult(records, Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp), CpuSample.Between(start, end), latencies);
    }

    /// <summary>
    /// One stream: a sender that writes while fewer than <c>--concurrency</c> requests are unanswered (new
    /// ones, or refused ones whose back-off is over), and a receiver that matches the in-order responses.
    /// The stream ends once every request it took is acknowledged.
    /// </summary>
    private async Task RunStreamAsync(
        ProduceService.ProduceServiceClient client, Func<int> takeNext, Action<int, long> acked, CancellationToken cancellationToken)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        abort.CancelAfter(s_stall);
        using var call = client.Produce(cancellationToken: abort.Token);
        using var window = new SemaphoreSlim(_options.Concurrency);
        var inFlight = new ConcurrentQueue<(ulong Id, int Index, long Started)>();
        var retries = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
        var outstanding = 0; // requests taken by this stream and not yet acknowledged (in flight or backing off)
        var exhausted = 0;   // no new requests left to take

        void CompleteIfDone()
        {
            if (Volatile.Read(ref exhausted) == 1 && Volatile.Read(ref outstanding) == 0)
            {
                retries.Writer.TryComplete();
            }
        }

        async Task RetryLaterAsync(int index, int delayMs)
        {
            try
            {
                await Task.Delay(Math.Max(delayMs, 10), abort.Token);
                retries.Writer.TryWrite(index);
            }
            catch (OperationCanceledException)
            {
                // The stream is going down anyway.
            }
        }

        async Task SendAsync()
        {
            while (true)
            {
                await window.WaitAsync(abort.Token);
                if (!retries.Reader.TryRead(out var index))
                {
                    index = Volatile.Read(ref exhausted) == 1 ? -1 : takeNext();
                    if (index < 0)
                    {
                        Volatile.Write(ref exhausted, 1);
                        CompleteIfDone();
                        window.Release();
                        if (!await retries.Reader.WaitToReadAsync(abort.Token))
                        {
                            break;
                        }
                        continue;
                    }
                    Interlocked.Increment(ref outstanding);
                }
                // Each request object is on one stream at a time (sent again only after its refusal), so
                // its id can be set here.
                var request = _requests[index];
                request.RequestId = (ulong)Interlocked.Increment(ref _requestIds);
                inFlight.Enqueue((request.RequestId, index, Stopwatch.GetTimestamp()));
                await call.RequestStream.WriteAsync(request, abort.Token);
            }
            await call.RequestStream.CompleteAsync();
        }

        async Task ReceiveAsync()
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(abort.Token))
            {
                var now = Stopwatch.GetTimestamp();
                abort.CancelAfter(s_stall);
                if (!inFlight.TryDequeue(out var sent) || sent.Id != response.RequestId)
                {
                    throw new InvalidOperationException(
                        $"Response for request id {response.RequestId} arrived; the oldest request in flight is {(sent.Id == 0 ? "none" : sent.Id)}.");
                }
                window.Release();
                if (response.StatusCode == (int)StatusCode.OK)
                {
                    var count = _workload.BatchCounts[sent.Index];
                    if (response.Offsets.Count != count)
                    {
                        throw new InvalidOperationException($"Request {sent.Index} of {count} records was answered with {response.Offsets.Count} offsets.");
                    }
                    foreach (var group in response.Offsets.GroupBy(o => o.Partition))
                    {
                        Tally.Add(group.Key, group.Count());
                    }
                    acked(sent.Index, now - sent.Started);
                    Interlocked.Decrement(ref outstanding);
                    CompleteIfDone();
                }
                else if (response.StatusCode == (int)StatusCode.ResourceExhausted)
                {
                    Tally.RefusedAndRetried("RESOURCE_EXHAUSTED");
                    _ = RetryLaterAsync(sent.Index, response.RetryAfterMs);
                }
                else
                {
                    throw new InvalidOperationException(
                        $"Request {sent.Index} was refused: {(StatusCode)response.StatusCode} ({response.StatusCode}) '{response.StatusMessage}'.");
                }
            }
            if (!inFlight.IsEmpty || Volatile.Read(ref outstanding) != 0)
            {
                throw new InvalidOperationException($"The produce stream ended with {inFlight.Count} requests unanswered.");
            }
        }

        async Task Guard(Func<Task> part)
        {
            try
            {
                await part();
            }
            catch
            {
                await abort.CancelAsync();
                throw;
            }
        }

        var send = Guard(SendAsync);
        var receive = Guard(ReceiveAsync);
        try
        {
            await Task.WhenAll(send, receive);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Report the cause, not the cancellation it set off in the other half.
            var cause = new[] { receive, send }
                .Where(t => t.IsFaulted)
                .SelectMany(t => t.Exception!.InnerExceptions)
                .FirstOrDefault(e => e is not OperationCanceledException and not RpcException { StatusCode: StatusCode.Cancelled });
            if (cause is not null)
            {
                ExceptionDispatchInfo.Throw(cause);
            }
            throw new TimeoutException($"The produce stream answered nothing for {s_stall.TotalSeconds:0} s with {inFlight.Count} requests in flight.");
        }
    }
}
