using Broker.ServiceDefaults.Security.Acls;

namespace Broker.Storage.Acls;

/// <summary>ACLs in this process only (no Redis configured): a restart forgets them, as it forgets the topics.</summary>
internal sealed class InMemoryAclStore : IAclStore
{
    private readonly Lock _lock = new();
    private readonly HashSet<AclEntry> _entries = [];
    private long _version;
    private Action? _changed;

    public Task<AclSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(new AclSnapshot(_version, [.. _entries]));
        }
    }

    public Task<int> AddAsync(IReadOnlyList<AclEntry> entries, int maxAcls, CancellationToken cancellationToken)
    {
        int added;
        lock (_lock)
        {
            var fresh = entries.Distinct().Where(e => !_entries.Contains(e)).ToList();
            if (_entries.Count + fresh.Count > maxAcls)
            {
                throw new AclLimitException(maxAcls);
            }
            _entries.UnionWith(fresh);
            added = fresh.Count;
            _version += added > 0 ? 1 : 0;
        }
        if (added > 0)
        {
            _changed?.Invoke();
        }
        return Task.FromResult(added);
    }

    public Task<int> RemoveAsync(IReadOnlyList<AclEntry> entries, CancellationToken cancellationToken)
    {
        int removed;
        lock (_lock)
        {
            removed = entries.Distinct().Count(_entries.Remove);
            _version += removed > 0 ? 1 : 0;
        }
        if (removed > 0)
        {
            _changed?.Invoke();
        }
        return Task.FromResult(removed);
    }

    public Task SubscribeAsync(Action changed, CancellationToken cancellationToken)
    {
        _changed += changed;
        return Task.CompletedTask;
    }
}
