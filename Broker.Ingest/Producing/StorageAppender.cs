using Broker.Contracts.Storage;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Broker.Ingest.Producing;

/// <summary>
/// Appends batches through Storage's gRPC API. Every batch Ingest sends carries a producer id and
/// sequence, so Storage answers a repeated batch with its original offsets: that is what makes the Polly
/// retries on transient failures safe.
/// </summary>
public sealed class StorageAppender
{
    private readonly LogService.LogServiceClient _storage;
    private readonly ResiliencePipeline _retry;
    private readonly TimeSpan _attemptTimeout;

    public StorageAppender(LogService.LogServiceClient storage, IOptions<IngestOptions> options, ILogger<StorageAppender> logger)
    {
        _storage = storage;
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
        try
        {
            var response = await _retry.ExecuteAsync(
                async (state, token) => await state.Storage.AppendAsync(state.Request, deadline: DateTime.UtcNow.Add(state.Timeout), cancellationToken: token),
                (Storage: _storage, Request: request, Timeout: _attemptTimeout),
                cancellationToken);
            return response.BaseOffset;
        }
        catch (RpcException ex)
        {
            throw ex.StatusCode switch
            {
                StatusCode.NotFound => new ProduceException(ProduceError.TopicNotFound, ex.Status.Detail, ex),
                StatusCode.FailedPrecondition => new ProduceException(ProduceError.OutOfOrderSequence, ex.Status.Detail, ex),
                StatusCode.InvalidArgument => new ProduceException(ProduceError.InvalidArgument, ex.Status.Detail, ex),
                _ => new ProduceException(ProduceError.Unavailable, $"Storage did not take the batch: {ex.Status.Detail}", ex),
            };
        }
    }
}
