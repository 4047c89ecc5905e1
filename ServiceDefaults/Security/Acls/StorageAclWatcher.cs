using Broker.Contracts.Acls;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>
/// The ACLs of a service that is not Storage: one long-lived <c>AclService.Watch</c> call to Storage (with the
/// service key), each snapshot it sends replacing the last. When the call breaks, the last ACLs stay in force and the
/// call is made again with backoff; until the first snapshot arrives, checks answer "not loaded yet" (503 / UNAVAILABLE).
/// </summary>
public sealed class StorageAclWatcher(AclService.AclServiceClient client, TimeProvider time, ILogger<StorageAclWatcher> logger)
    : BackgroundService, IAclSource
{
    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(10);

    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile AclSnapshot? _current;

    public AclSnapshot? Current => _current;

    /// <summary>Completes once the first snapshot is in.</summary>
    public Task Loaded => _loaded.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => !stoppingToken.IsCancellationRequested),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = s_maxRetryDelay,
                OnRetry = args =>
                {
                    SecurityLog.AclWatchFailed(logger, args.Outcome.Exception is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : args.Outcome.Exception?.Message ?? "the stream ended");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        try
        {
            await retry.ExecuteAsync(WatchAsync, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async ValueTask WatchAsync(CancellationToken cancellationToken)
    {
        using var call = client.Watch(new WatchAclsRequest(), cancellationToken: cancellationToken);
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            // One call's snapshots come in order; a new call's first one is taken whatever its version (Redis may have been reset).
            var snapshot = AclWire.FromMessage(message);
            _current = snapshot;
            if (_loaded.TrySetResult())
            {
                SecurityLog.AclsLoaded(logger, snapshot.Version, snapshot.Entries.Count);
            }
        }
        // Storage ends the call only when it stops: make it again.
        throw new RpcException(new Status(StatusCode.Unavailable, "Storage ended the ACL watch."));
    }
}
