namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>ACL entries to and from acls.proto's messages.</summary>
public static class AclWire
{
    public static Contracts.Acls.AclEntry ToMessage(AclEntry entry) => new()
    {
        Principal = entry.Principal,
        ResourceType = AclEntry.Name(entry.ResourceType),
        ResourceName = entry.ResourceName,
        Pattern = AclEntry.Name(entry.Pattern),
        Operation = AclEntry.Name(entry.Operation),
        Permission = AclEntry.Name(entry.Permission),
    };

    /// <summary>The entry, or null for one this version does not understand (skipped, never widened into an allow).</summary>
    public static AclEntry? FromMessage(Contracts.Acls.AclEntry message) =>
        AclEntry.TryParse<AclResourceType>(message.ResourceType, out var type)
        && AclEntry.TryParse<AclPatternType>(message.Pattern, out var pattern)
        && AclEntry.TryParse<AclOperation>(message.Operation, out var operation)
        && AclEntry.TryParse<AclPermission>(message.Permission, out var permission)
            ? new AclEntry(message.Principal, type, message.ResourceName, pattern, operation, permission)
            : null;

    public static AclSnapshot FromMessage(Contracts.Acls.AclSnapshot message) =>
        new(message.Version, message.Entries.Select(FromMessage).OfType<AclEntry>());

    public static Contracts.Acls.AclSnapshot ToMessage(AclSnapshot snapshot)
    {
        var message = new Contracts.Acls.AclSnapshot { Version = snapshot.Version };
        message.Entries.AddRange(snapshot.Entries.Select(ToMessage));
        return message;
    }
}
