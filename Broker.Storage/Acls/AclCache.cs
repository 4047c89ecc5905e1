using Broker.ServiceDefaults.Concurrency;
using Broker.ServiceDefaults.Security.Acls;

namespace Broker.Storage.Acls;

/// <summary>
/// Storage's ACLs in memory: loaded at start, reloaded whenever any instance changes them (the store's channel) and
/// every <see cref="s_refresh"/> as a safety net. What Storage's own checks read and what <see cref="AclGrpcService"/>
/// streams to the other services.
/// </summary>
public sealed class AclCache(IAclStore store, TimeProvider time, ILogger<AclCache> logger) : BackgroundService, IAclSource
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_retry = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly Lock _lock = new();
    private readonly AsyncSignal _wake = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile AclSnapshot? _current;

    public AclSnapshot? Current => _current;

    public Task Loaded => _loaded.Task;

    /// <summary>Completes at the next change (or when the cache first loads).</summary>
    public Task Changed
    {
        get
        {
            lock (_lock)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Reads the store again now (after a change made through this instance, so its own answers see it at once).</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            var snapshot = await store.LoadAsync(cancellationToken);
            if (_current is { } current && current.Version == snapshot.Version && current.Entries.Count == snapshot.Entries.Count)
            {
                return;
            }
            _current = snapshot;
            TaskCompletionSource changed;
            lock (_lock)
            {
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
            _loaded.TrySetResult();
            StorageLog.AclsLoaded(logger, snapshot.Version, snapshot.Entries.Count);
        }
        finally
        {
            _reloading.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.SubscribeAsync(_wake.Set, stoppingToken);
                break;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                StorageLog.AclReloadFailed(logger, ex.Message);
                await Task.Delay(s_retry, time, stoppingToken);
            }
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReloadAsync(stoppingToken);
                await _wake.WaitAsync(s_refresh, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The last ACLs loaded stay in force while Redis is away.
                StorageLog.AclReloadFailed(logger, ex.Message);
                await Task.Delay(s_retry, time, stoppingToken);
            }
        }
    }
}
