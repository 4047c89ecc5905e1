using System.Diagnostics;
using System.Net;
using Amazon.Runtime;
using Broker.Storage.Telemetry;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Broker.Storage.Segments;

/// <summary>
/// Wraps a segment store with what every caller wants: a timeout per request, retries with exponential
/// backoff and jitter on transient faults (Polly), and a metric per request, so the requests S3 bills are
/// counted where they happen. A missing object is not transient and is not retried.
/// </summary>
public sealed class ResilientSegmentStore : ISegmentStore
{
    private readonly ISegmentStore _inner;
    private readonly TieringMetrics _metrics;
    private readonly ResiliencePipeline _pipeline;

    public ResilientSegmentStore(ISegmentStore inner, SegmentStoreOptions options, TieringMetrics metrics, TimeProvider time, ILogger logger)
    {
        _inner = inner;
        _metrics = metrics;
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.RetryBaseDelayMs),
                OnRetry = args =>
                {
                    StorageLog.SegmentStoreRetry(logger, inner.Kind, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                    return ValueTask.CompletedTask;
                },
            });
        }
        _pipeline = builder.AddTimeout(TimeSpan.FromMilliseconds(options.TimeoutMs)).Build();
    }

    public string Kind => _inner.Kind;

    public string Location => _inner.Location;

    public Task PutAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        RunAsync("put", (name, content), static async (s, store, ct) =>
        {
            await store.PutAsync(s.name, s.content, ct);
            return s.content.Length;
        }, cancellationToken);

    public Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken) =>
        RunAsync("get", (name, position, into), static (s, store, ct) => store.ReadAsync(s.name, s.position, s.into, ct), cancellationToken);

    public Task DeleteAsync(string name, CancellationToken cancellationToken) =>
        RunAsync("delete", name, static async (n, store, ct) =>
        {
            await store.DeleteAsync(n, ct);
            return 0;
        }, cancellationToken);

    /// <summary>Not retried: a listing that fails part-way is the sweep's to run again.</summary>
    public IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken cancellationToken) => _inner.ListAsync(prefix, cancellationToken);

    private async Task<int> RunAsync<TState>(string operation, TState state, Func<TState, ISegmentStore, CancellationToken, Task<int>> call,
        CancellationToken cancellationToken)
    {
        return await _pipeline.ExecuteAsync(async (ct) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var bytes = await call(state, _inner, ct);
                _metrics.Request(_inner.Kind, operation, bytes, Stopwatch.GetElapsedTime(started), failed: false);
                return bytes;
            }
            catch (Exception ex) when (ex is not SegmentNotFoundException)
            {
                _metrics.Request(_inner.Kind, operation, 0, Stopwatch.GetElapsedTime(started), failed: true);
                throw;
            }
        }, cancellationToken);
    }

    /// <summary>Network trouble, timeouts, throttling and server errors are worth another try; a client error is not.</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        SegmentNotFoundException => false,
        AmazonServiceException service => service.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
            || (int)service.StatusCode >= 500 || service.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError"
            || service.InnerException is HttpRequestException or IOException,
        AmazonClientException => true,
        HttpRequestException or IOException or TimeoutRejectedException or TimeoutException => true,
        _ => false,
    };
}
