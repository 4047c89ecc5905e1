using System.Collections.Concurrent;
using System.Text.Json;

namespace Broker.Delivery.Replays;

/// <summary>Jobs in this process only (no Redis configured): a restart forgets them.</summary>
public sealed class InMemoryReplayStore(TimeProvider time) : IReplayStore
{
    private readonly ConcurrentDictionary<string, string> _jobs = new();
    private readonly ConcurrentDictionary<string, (string Holder, long Until)> _leases = new();
    private readonly ConcurrentDictionary<string, byte> _cancels = new();

    public Task CreateAsync(ReplayJob job, CancellationToken cancellationToken) => SaveAsync(job, cancellationToken);

    public Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_jobs.TryGetValue(id, out var json) ? JsonSerializer.Deserialize(json, ReplayJsonContext.Default.ReplayJob) : null);

    public Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ReplayJob>>([.. _jobs.Values.Select(j => JsonSerializer.Deserialize(j, ReplayJsonContext.Default.ReplayJob)!)
            .OrderByDescending(j => j.CreatedAt)]);

    public Task SaveAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        _jobs[job.Id] = JsonSerializer.Serialize(job, ReplayJsonContext.Default.ReplayJob);
        return Task.CompletedTask;
    }

    public Task<bool> LeaseAsync(string id, string holder, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var held = _leases.AddOrUpdate(id, (holder, now + (long)lease.TotalMilliseconds),
            (_, current) => current.Holder == holder || current.Until <= now ? (holder, now + (long)lease.TotalMilliseconds) : current);
        return Task.FromResult(held.Holder == holder);
    }

    public Task ReleaseAsync(string id, string holder, CancellationToken cancellationToken)
    {
        if (_leases.TryGetValue(id, out var lease) && lease.Holder == holder)
        {
            _leases.TryRemove(KeyValuePair.Create(id, lease));
        }
        return Task.CompletedTask;
    }

    public Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_leases.TryGetValue(id, out var lease) && lease.Until > time.GetUtcNow().ToUnixTimeMilliseconds());

    public Task RequestCancelAsync(string id, CancellationToken cancellationToken)
    {
        _cancels[id] = 0;
        return Task.CompletedTask;
    }

    public Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken) => Task.FromResult(_cancels.ContainsKey(id));
}
