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
/// call is made again with backoff (from the first delay again after a call that delivered snapshots); until the first
/// snapshot arrives, checks answer "not loaded yet" (503 / UNAVAILABLE).
/// </summary>
public sealed class StorageAclWatcher(AclService.AclServiceClient client, TimeProvider time, ILogger<StorageAclWatcher> logger)
    : BackgroundService, IAclSource
{
    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(200);
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
                Delay = s_firstRetryDelay,
                MaxDelay = s_maxRetryDelay,
                OnRetry = args =>
                {
                    SecurityLog.AclWatchFailed(logger, Describe(args.Outcome.Exception));
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        try
        {
            // One run of the pipeline per watch that works: its attempts count failures in a row, so a watch that
            // delivered snapshots for hours and then broke (Storage restarted) starts the backoff afresh instead of
            // waiting the longest delay, as every reconnect after a few such breaks did.
            while (!stoppingToken.IsCancellationRequested)
            {
                await retry.ExecuteAsync(WatchAsync, stoppingToken);
                await Task.Delay(s_firstRetryDelay, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One watch: throws when it fails before any snapshot (retried with backoff); returns when a watch that had some ends.</summary>
    private async ValueTask WatchAsync(CancellationToken cancellationToken)
    {
        var received = false;
        try
        {
            using var call = client.Watch(new WatchAclsRequest(), cancellationToken: cancellationToken);
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                // One call's snapshots come in order; a new call's first one is taken whatever its version (Redis may have been reset).
                var snapshot = AclWire.FromMessage(message);
                _current = snapshot;
                received = true;
                if (_loaded.TrySetResult())
                {
                    SecurityLog.AclsLoaded(logger, snapshot.Version, snapshot.Entries.Count);
                }
            }
            // Storage ends the call only when it stops: make it again.
            throw new RpcException(new Status(StatusCode.Unavailable, "Storage ended the ACL watch."));
        }
        catch (Exception ex) when (received && !cancellationToken.IsCancellationRequested)
        {
            SecurityLog.AclWatchFailed(logger, Describe(ex));
        }
    }

    private static string Describe(Exception? exception) =>
        exception is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : exception?.Message ?? "the stream ended";
}
