using Broker.ServiceDefaults.Security.Acls;

namespace Broker.Storage.Acls;

/// <summary>Where the ACLs live (Redis, or process memory for the embedded mode), with a version that grows with every change.</summary>
public interface IAclStore
{
    Task<AclSnapshot> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Adds the entries that are not there yet; how many were new. <see cref="AclLimitException"/> past <paramref name="maxAcls"/>.</summary>
    Task<int> AddAsync(IReadOnlyList<AclEntry> entries, int maxAcls, CancellationToken cancellationToken);

    /// <summary>Removes the entries that are there; how many were.</summary>
    Task<int> RemoveAsync(IReadOnlyList<AclEntry> entries, CancellationToken cancellationToken);

    /// <summary>Calls <paramref name="changed"/> whenever any instance changes the ACLs.</summary>
    Task SubscribeAsync(Action changed, CancellationToken cancellationToken);
}

public sealed class AclLimitException(int maxAcls) : Exception($"The broker keeps at most {maxAcls} ACL entries (Auth:MaxAcls).")
{
    public int MaxAcls { get; } = maxAcls;
}
