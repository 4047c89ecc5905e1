using System.Collections.Concurrent;
using System.Text.Json;

namespace Broker.Delivery.Replays;

/// <summary>
/// Jobs in this process only (no Redis configured): a restart forgets them. Leases and epochs work as in Redis (one
/// lock over them), so a run that lost its lease meanwhile is refused here too.
/// </summary>
public sealed class InMemoryReplayStore(TimeProvider time) : IReplayStore
{
    private readonly ConcurrentDictionary<string, string> _jobs = new();
    private readonly Dictionary<string, (string Holder, long Epoch, long Until)> _leases = [];
    private readonly Dictionary<string, long> _epochs = [];
    private readonly ConcurrentDictionary<string, byte> _cancels = new();
    private readonly Lock _lock = new();

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    public Task CreateAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        _jobs[job.Id] = JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob);
        return Task.CompletedTask;
    }

    public Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_jobs.TryGetValue(id, out var json) ? JsonSerializer.Deserialize(json, ReplayJsonContext.Default.ReplayJob) : null);

    public Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ReplayJob>>([.. _jobs.Values.Select(j => JsonSerializer.Deserialize(j, ReplayJsonContext.Default.ReplayJob)!)
            .OrderByDescending(j => j.CreatedAt)]);

    public Task<ReplaySave> SaveAsync(ReplayJob job, long epoch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_epochs.GetValueOrDefault(job.Id) != epoch)
            {
                return Task.FromResult(ReplaySave.Fenced);
            }
            if (Ended(job.Id))
            {
                return Task.FromResult(ReplaySave.Ended);
            }
            _jobs[job.Id] = JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob);
            return Task.FromResult(ReplaySave.Saved);
        }
    }

    public Task<long> LeaseAsync(string id, string holder, long epoch, TimeSpan lease, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now;
            var until = now + (long)lease.TotalMilliseconds;
            var last = _epochs.GetValueOrDefault(id);
            if (_leases.TryGetValue(id, out var current) && current.Until > now)
            {
                if (current.Holder != holder || (epoch > 0 && current.Epoch != epoch))
                {
                    return Task.FromResult(0L);
                }
            }
            if (epoch > 0)
            {
                if (last != epoch)
                {
                    return Task.FromResult(0L); // someone took the job since: lost for good
                }
                _leases[id] = (holder, epoch, until);
                return Task.FromResult(epoch);
            }
            var next = Math.Max(now, last + 1);
            _epochs[id] = next;
            _leases[id] = (holder, next, until);
            return Task.FromResult(next);
        }
    }

    public Task ReleaseAsync(string id, string holder, long epoch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_leases.TryGetValue(id, out var lease) && lease.Holder == holder && lease.Epoch == epoch)
            {
                _leases.Remove(id);
            }
        }
        return Task.CompletedTask;
    }

    public Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_leases.TryGetValue(id, out var lease) && lease.Until > Now);
        }
    }

    public Task<bool> CancelIdleAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now;
            if ((_leases.TryGetValue(job.Id, out var lease) && lease.Until > now) || Ended(job.Id))
            {
                return Task.FromResult(false);
            }
            _epochs[job.Id] = Math.Max(now, _epochs.GetValueOrDefault(job.Id) + 1);
            _jobs[job.Id] = JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob);
            return Task.FromResult(true);
        }
    }

    public Task RequestCancelAsync(string id, CancellationToken cancellationToken)
    {
        _cancels[id] = 0;
        return Task.CompletedTask;
    }

    public Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken) => Task.FromResult(_cancels.ContainsKey(id));

    private bool Ended(string id) =>
        _jobs.TryGetValue(id, out var json) && JsonSerializer.Deserialize(json, ReplayJsonContext.Default.ReplayJob)!.IsFinished;
}
