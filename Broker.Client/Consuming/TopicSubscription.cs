using Broker.Client.Connection;
using Broker.Contracts.Delivery;
using Grpc.Core;
using Polly;
using Polly.Retry;

namespace Broker.Client.Consuming;

/// <summary>
/// One topic of a consumer: a Subscribe stream to Delivery, reopened with backoff when it breaks (records not acked
/// on the old stream are delivered again), and acks and nacks gathered into one message per write.
/// </summary>
internal sealed class TopicSubscription : IAsyncDisposable
{
    private readonly DeliveryService.DeliveryServiceClient _delivery;
    private readonly Subscribe _subscribe;
    private readonly Func<DeliveredRecord, TopicSubscription, CancellationToken, ValueTask> _onRecord;
    private readonly Action<Exception> _onFatal;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResiliencePipeline _reconnect;
    private readonly Lock _sync = new();
    private readonly SemaphoreSlim _acksWaiting = new(0, int.MaxValue);
    // A gRPC request stream takes one write at a time: the subscribe, the ack loop's, and the leave's.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _ackStopping = new();
    private int _generation;
    private Acks _pending = new();
    private AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse>? _call;
    private Task? _running;
    private Task? _acking;
    private volatile bool _leaving;

    public TopicSubscription(DeliveryService.DeliveryServiceClient delivery, Subscribe subscribe,
        Func<DeliveredRecord, TopicSubscription, CancellationToken, ValueTask> onRecord, Action<Exception> onFatal, TimeProvider time)
    {
        _delivery = delivery;
        _subscribe = subscribe;
        _onRecord = onRecord;
        _onFatal = onFatal;
        _reconnect = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(ex => !_leaving && Transient(ex)).Handle<IOException>(_ => !_leaving),
                MaxRetryAttempts = int.MaxValue, // a consumer waits out a Delivery restart however long it takes
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(5),
            })
            .Build();
    }

    public string Topic => _subscribe.Topic;

    /// <summary>The partitions this consumer has now (from the last assignment).</summary>
    public IReadOnlyList<int> Partitions { get; private set; } = [];

    /// <summary>Which stream the records now handed out came on: a record from an earlier one is delivered again, so it is skipped.</summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>The member id Delivery gave this consumer on the current stream.</summary>
    public string? MemberId { get; private set; }

    public void Start()
    {
        _running = Task.Run(RunAsync);
        _acking = Task.Run(AckLoopAsync);
    }

    /// <summary>
    /// Queues an ack, written with the others gathered meanwhile as soon as the stream takes a write. The caller does not
    /// wait for that write: an ack lost with a broken stream only means the record is delivered again.
    /// </summary>
    public Task AckAsync(string deliveryId)
    {
        lock (_sync)
        {
            if (_leaving)
            {
                return Task.CompletedTask; // left: the record goes to the group's others
            }
            _pending.Ack.Add(deliveryId);
            _acksWaiting.Release();
            return Task.CompletedTask;
        }
    }

    /// <summary>Queues an extension, written as an ack is: the delivery gets a new ack deadline (now plus the ack timeout) when Delivery reads it.</summary>
    public Task ExtendAsync(string deliveryId)
    {
        lock (_sync)
        {
            if (_leaving)
            {
                return Task.CompletedTask;
            }
            _pending.Extend.Add(deliveryId);
            _acksWaiting.Release();
            return Task.CompletedTask;
        }
    }

    /// <summary>Queues a nack with the reason, kept in the dead-letter record's headers if it ends there.</summary>
    public Task NackAsync(string deliveryId, string error)
    {
        lock (_sync)
        {
            if (_leaving)
            {
                return Task.CompletedTask;
            }
            _pending.Nack.Add(new Nack { DeliveryId = deliveryId, Error = error.Length > 1024 ? error[..1024] : error });
            _acksWaiting.Release();
            return Task.CompletedTask;
        }
    }

    private async Task RunAsync()
    {
        var stopping = _stopping.Token;
        try
        {
            await _reconnect.ExecuteAsync(async token =>
            {
                var call = _delivery.Subscribe(cancellationToken: token);
                try
                {
                    // The subscribe goes first; only then may the ack loop write on this stream.
                    await call.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = _subscribe }, token);
                    lock (_sync)
                    {
                        _call = call;
                        Interlocked.Increment(ref _generation);
                    }
                    await foreach (var response in call.ResponseStream.ReadAllAsync(token))
                    {
                        switch (response.KindCase)
                        {
                            case SubscribeResponse.KindOneofCase.Records:
                                foreach (var record in response.Records.Records_)
                                {
                                    await _onRecord(record, this, token);
                                }
                                break;
                            case SubscribeResponse.KindOneofCase.Assignment:
                                MemberId = response.Assignment.MemberId;
                                Partitions = [.. response.Assignment.Partitions];
                                break;
                            default:
                                break; // An ack error: the record is delivered again; nothing for the application to do.
                        }
                    }
                    if (_leaving)
                    {
                        return; // the end of the stream this consumer asked for
                    }
                    // Delivery ended the stream (it is stopping): subscribe again.
                    throw new RpcException(new Status(StatusCode.Unavailable, "Delivery ended the subscribe stream."));
                }
                finally
                {
                    lock (_sync)
                    {
                        _call = null;
                    }
                    call.Dispose();
                }
            }, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (RpcException ex) when (stopping.IsCancellationRequested && ex.StatusCode == StatusCode.Cancelled)
        {
        }
        catch (Exception ex)
        {
            _onFatal(ex is RpcException rpc ? new ConsumeException(Topic, rpc) : ex);
        }
    }

    /// <summary>Writes what was acked and nacked since the last write, as one message.</summary>
    private async Task AckLoopAsync()
    {
        var stopping = _ackStopping.Token;
        while (true)
        {
            try
            {
                await _acksWaiting.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await WriteAcksAsync(CancellationToken.None);
        }
    }

    private async Task WriteAcksAsync(CancellationToken cancellationToken)
    {
        Acks acks;
        AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse>? call;
        lock (_sync)
        {
            if (_pending.Ack.Count == 0 && _pending.Nack.Count == 0 && _pending.Extend.Count == 0)
            {
                return;
            }
            acks = _pending;
            _pending = new Acks();
            call = _call;
            // Drain the signals these acks raised: one write carries them all.
            while (_acksWaiting.CurrentCount > 0 && _acksWaiting.Wait(0, CancellationToken.None))
            {
            }
        }
        try
        {
            if (call is not null)
            {
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    await call.RequestStream.WriteAsync(new SubscribeRequest { Acks = acks }, cancellationToken);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            // With no stream the deliveries died with it: their records come again, so there is nothing to ack.
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            // Likewise: the stream broke; its records come again.
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Graceful leave: no more acks are taken, the ack loop stops, what was acked is written, then the stream ends;
        // what was not acked goes to the group's other members.
        lock (_sync)
        {
            _leaving = true;
        }
        await _ackStopping.CancelAsync();
        await Stopping.Quietly(_acking);
        await WriteAcksAsync(CancellationToken.None);
        AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse>? call;
        lock (_sync)
        {
            call = _call;
        }
        if (call is not null)
        {
            try
            {
                await _writeLock.WaitAsync();
                try
                {
                    await call.RequestStream.CompleteAsync();
                }
                finally
                {
                    _writeLock.Release();
                }
                // Delivery reads the acks before the end of the stream, then ends its side: wait for that (a while),
                // as cancelling at once could drop acks still in its buffers.
                if (_running is { } running)
                {
                    await running.WaitAsync(TimeSpan.FromSeconds(5));
                }
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or TimeoutException)
            {
            }
        }
        await _stopping.CancelAsync();
        await Stopping.Quietly(_running);
        _stopping.Dispose();
        _ackStopping.Dispose();
    }

    private static bool Transient(RpcException ex) => ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Aborted
        or StatusCode.ResourceExhausted or StatusCode.Unknown or StatusCode.DeadlineExceeded;
}

/// <summary>Delivery refused a subscription: the topic does not exist, a name or setting is wrong, or the principal may not read.</summary>
public sealed class ConsumeException : Exception
{
    internal ConsumeException(string topic, RpcException inner)
        : base($"Delivery refused the subscription to {topic}: {inner.Status.Detail} ({inner.StatusCode})", inner)
    {
        Topic = topic;
        StatusCode = inner.StatusCode;
    }

    /// <summary>The topic whose subscription was refused.</summary>
    public string Topic { get; }

    /// <summary>Delivery's gRPC status: NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED.</summary>
    public StatusCode StatusCode { get; }
}
