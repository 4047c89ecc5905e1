using System.Collections.Concurrent;
using Broker.Contracts.Storage;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Broker.Ingest.Producing;

/// <summary>
/// Appends batches through Storage's AppendStream: one long-lived stream for every partition of this
/// instance, so an append costs one message each way, not a call. Every batch Ingest sends carries a
/// producer id and sequence, so Storage answers a repeated batch with its original offsets: that is what
/// makes the Polly retries on transient failures (a broken stream, no answer in time) safe. A broken
/// stream fails the appends it carried and the next append opens a new one.
/// </summary>
public sealed class StorageAppender : IAsyncDisposable
{
    private readonly LogService.LogServiceClient _storage;
    private readonly ResiliencePipeline _retry;
    private readonly TimeSpan _attemptTimeout;
    private readonly ILogger<StorageAppender> _logger;
    private readonly Lock _lock = new();
    private AppendStream? _stream;

    public StorageAppender(LogService.LogServiceClient storage, IOptions<IngestOptions> options, ILogger<StorageAppender> logger)
    {
        _storage = storage;
        _logger = logger;
        _attemptTimeout = TimeSpan.FromMilliseconds(options.Value.AppendTimeoutMs);
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(e =>
                    e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted),
                MaxRetryAttempts = Math.Max(options.Value.AppendAttempts - 1, 1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(50),
                OnRetry = args =>
                {
                    IngestLog.AppendRetry(logger, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                    return default;
                },
            })
            .Build();
    }

    /// <summary>
    /// Appends one batch; answers its base offset (the original one for a repeated batch). The batch's
    /// memory is only read, and not after this returns, so the caller may reuse it then.
    /// </summary>
    public async Task<long> AppendAsync(string topic, int partition, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        var request = new AppendRequest { Topic = topic, Partition = partition, Batch = UnsafeByteOperations.UnsafeWrap(batch) };
        AppendResponse response;
        try
        {
            response = await _retry.ExecuteAsync(
                static async (state, token) => await state.Appender.Stream().AppendAsync(state.Request, state.Appender._attemptTimeout, token),
                (Appender: this, Request: request),
                cancellationToken);
        }
        catch (RpcException ex)
        {
            throw Refusal(ex.Status);
        }
        return response.StatusCode == (int)StatusCode.OK
            ? response.BaseOffset
            : throw Refusal(new Status((StatusCode)response.StatusCode, response.StatusMessage));
    }

    private static ProduceException Refusal(Status status) => status.StatusCode switch
    {
        StatusCode.NotFound => new ProduceException(ProduceError.TopicNotFound, status.Detail),
        StatusCode.FailedPrecondition => new ProduceException(ProduceError.OutOfOrderSequence, status.Detail),
        StatusCode.InvalidArgument => new ProduceException(ProduceError.InvalidArgument, status.Detail),
        // The partition's hot tier is at its hard limit (tiering is behind): the producer is told to back off, nothing was written.
        StatusCode.ResourceExhausted => new ProduceException(ProduceError.Backpressure, status.Detail),
        _ => new ProduceException(ProduceError.Unavailable, $"Storage did not take the batch: {status.Detail}"),
    };

    private AppendStream Stream()
    {
        lock (_lock)
        {
            if (_stream is null || _stream.IsBroken)
            {
                _stream?.Dispose();
                _stream = new AppendStream(_storage.AppendStream(), _logger);
            }
            return _stream;
        }
    }

    public async ValueTask DisposeAsync()
    {
        AppendStream? stream;
        lock (_lock)
        {
            stream = _stream;
            _stream = null;
        }
        if (stream is not null)
        {
            await stream.CompleteAsync();
            stream.Dispose();
        }
    }

    /// <summary>One AppendStream call: requests written one at a time, answers matched to their request by id.</summary>
    private sealed class AppendStream : IDisposable
    {
        private readonly AsyncDuplexStreamingCall<AppendRequest, AppendResponse> _call;
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource<AppendResponse>> _pending = new();
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly ILogger _logger;
        private long _nextId;
        private volatile bool _broken;

        public AppendStream(AsyncDuplexStreamingCall<AppendRequest, AppendResponse> call, ILogger logger)
        {
            _call = call;
            _logger = logger;
            _ = ReadAnswersAsync();
        }

        public bool IsBroken => _broken;

        public async Task<AppendResponse> AppendAsync(AppendRequest request, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var id = (ulong)Interlocked.Increment(ref _nextId);
            var answer = new TaskCompletionSource<AppendResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = answer;
            try
            {
                // A message per attempt: the retried request object is shared, the id is the attempt's own.
                var message = request.Clone();
                message.RequestId = id;
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    if (_broken)
                    {
                        throw new RpcException(new Status(StatusCode.Unavailable, "The append stream to Storage broke."));
                    }
                    await _call.RequestStream.WriteAsync(message, cancellationToken);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException)
                {
                    Break(new RpcException(new Status(StatusCode.Unavailable, "The append stream to Storage broke: " + ex.Message)));
                    throw;
                }
                finally
                {
                    _writeLock.Release();
                }
                return await answer.Task.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"Storage did not answer an append within {timeout.TotalMilliseconds} ms."));
            }
            finally
            {
                _pending.TryRemove(id, out _);
            }
        }

        private async Task ReadAnswersAsync()
        {
            try
            {
                await foreach (var answer in _call.ResponseStream.ReadAllAsync())
                {
                    if (_pending.TryGetValue(answer.RequestId, out var waiting))
                    {
                        waiting.TrySetResult(answer);
                    }
                }
                Break(new RpcException(new Status(StatusCode.Unavailable, "Storage ended the append stream.")));
            }
            catch (Exception ex)
            {
                IngestLog.AppendStreamBroken(_logger, ex.Message);
                Break(ex as RpcException ?? new RpcException(new Status(StatusCode.Unavailable, "The append stream to Storage broke: " + ex.Message)));
            }
        }

        private void Break(RpcException reason)
        {
            _broken = true;
            foreach (var waiting in _pending.Values)
            {
                // Whatever the stream carried is unknown: the retry sends it again, and Storage's producer check keeps one copy.
                waiting.TrySetException(reason.StatusCode == StatusCode.Cancelled ? new RpcException(new Status(StatusCode.Unavailable, reason.Status.Detail)) : reason);
            }
        }

        public async Task CompleteAsync()
        {
            try
            {
                await _call.RequestStream.CompleteAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or RpcException or IOException)
            {
                // Going away anyway.
            }
        }

        // The write lock is not disposed: an append racing the replacement of a broken stream may still hold it.
        public void Dispose() => _call.Dispose();
    }
}
