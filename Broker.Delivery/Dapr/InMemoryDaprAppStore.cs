using System.Collections.Concurrent;

namespace Broker.Delivery.Dapr;

/// <summary>Apps in this process only (no Redis configured): a restart forgets them.</summary>
public sealed class InMemoryDaprAppStore : IDaprAppStore
{
    private readonly ConcurrentDictionary<string, string> _apps = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<DaprApp>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DaprApp>>([.. _apps.Values.Select(DaprAppJson.Deserialize).OrderBy(a => a.AppId, StringComparer.Ordinal)]);

    public Task<DaprApp?> GetAsync(string appId, CancellationToken cancellationToken) =>
        Task.FromResult(_apps.TryGetValue(appId, out var json) ? DaprAppJson.Deserialize(json) : null);

    public Task PutAsync(DaprApp app, CancellationToken cancellationToken)
    {
        _apps[app.AppId] = DaprAppJson.Serialize(app);
        return Task.CompletedTask;
    }

    public Task<bool> DeleteAsync(string appId, CancellationToken cancellationToken) => Task.FromResult(_apps.TryRemove(appId, out _));
}
