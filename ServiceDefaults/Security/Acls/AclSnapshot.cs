namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>Every ACL at one version, indexed by principal: what each check reads, never changed once built.</summary>
public sealed class AclSnapshot
{
    private static readonly AclEntry[] s_none = [];
    private readonly Dictionary<string, AclEntry[]> _byPrincipal;

    public AclSnapshot(long version, IEnumerable<AclEntry> entries)
    {
        Version = version;
        Entries = [.. entries.Distinct()];
        _byPrincipal = Entries.GroupBy(e => e.Principal, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    public static AclSnapshot Empty { get; } = new(0, []);

    public long Version { get; }

    public IReadOnlyList<AclEntry> Entries { get; }

    /// <summary>The first entry that denies the operation, else the first that allows it; deny wins.</summary>
    public (AclEntry? Deny, AclEntry? Allow) Find(string principal, AclResourceType type, string name, AclOperation operation)
    {
        AclEntry? allow = null;
        var deny = Scan(_byPrincipal.GetValueOrDefault(principal, s_none), type, name, operation, ref allow)
            ?? Scan(_byPrincipal.GetValueOrDefault(AclEntry.Wildcard, s_none), type, name, operation, ref allow);
        return deny is null ? (null, allow) : (deny, null);
    }

    private static AclEntry? Scan(AclEntry[] entries, AclResourceType type, string name, AclOperation operation, ref AclEntry? allow)
    {
        foreach (var entry in entries)
        {
            if (!entry.Covers(type, name) || !entry.Grants(operation))
            {
                continue;
            }
            if (entry.Permission == AclPermission.Deny)
            {
                return entry;
            }
            allow ??= entry;
        }
        return null;
    }
}
