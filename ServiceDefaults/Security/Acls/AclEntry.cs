namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>What an ACL is about, as in Kafka: topics, consumer groups, registry subjects and the cluster itself.</summary>
public enum AclResourceType
{
    Topic,
    Group,
    Subject,
    Cluster,
}

/// <summary>How an ACL's resource name matches: the name itself (or <c>*</c>, every name), or every name that starts with it.</summary>
public enum AclPatternType
{
    Literal,
    Prefixed,
}

/// <summary>Kafka's operations. Read, write, delete and alter each imply describe; <see cref="All"/> is every operation.</summary>
public enum AclOperation
{
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    All,
}

public enum AclPermission
{
    Allow,
    Deny,
}

/// <summary>
/// One ACL: a principal (or <c>*</c>, everyone) may or may not do one operation on the resources a pattern matches.
/// A request's binding with several operations is stored as one entry per operation, so adding and removing are
/// set operations and two bindings that overlap never fight.
/// </summary>
public sealed record AclEntry(
    string Principal, AclResourceType ResourceType, string ResourceName, AclPatternType Pattern, AclOperation Operation, AclPermission Permission)
{
    /// <summary>The one name the cluster resource has.</summary>
    public const string ClusterName = "cluster";

    public const string Wildcard = "*";

    /// <summary>Longest resource name or prefix (Kafka's topic limit is 249; subjects may be longer).</summary>
    public const int MaxNameLength = 512;

    public bool AppliesTo(string principal) => Principal == Wildcard || Principal == principal;

    public bool Covers(AclResourceType type, string name) => ResourceType == type && Pattern switch
    {
        AclPatternType.Literal => ResourceName == Wildcard || ResourceName == name,
        _ => name.StartsWith(ResourceName, StringComparison.Ordinal),
    };

    /// <summary>Whether this entry speaks of the operation: the same, <see cref="AclOperation.All"/>, or (for allows) one that implies describe.</summary>
    public bool Grants(AclOperation operation) => Operation == operation || Operation == AclOperation.All
        || (Permission == AclPermission.Allow && operation == AclOperation.Describe
            && Operation is AclOperation.Read or AclOperation.Write or AclOperation.Delete or AclOperation.Alter);

    public override string ToString() =>
        $"{Name(Permission)} {Name(Operation)} on {Name(ResourceType)} {(Pattern == AclPatternType.Prefixed ? "prefix " : "")}'{ResourceName}' for {Principal}";

    // Names as the API spells them, without an allocation: they are tags of a metric counted on every request.
    public static string Name(AclResourceType type) => type switch
    {
        AclResourceType.Topic => "topic",
        AclResourceType.Group => "group",
        AclResourceType.Subject => "subject",
        _ => "cluster",
    };

    public static string Name(AclPatternType pattern) => pattern == AclPatternType.Literal ? "literal" : "prefixed";

    public static string Name(AclOperation operation) => operation switch
    {
        AclOperation.Read => "read",
        AclOperation.Write => "write",
        AclOperation.Create => "create",
        AclOperation.Delete => "delete",
        AclOperation.Alter => "alter",
        AclOperation.Describe => "describe",
        _ => "all",
    };

    public static string Name(AclPermission permission) => permission == AclPermission.Allow ? "allow" : "deny";

    /// <summary>A name as messages and logs show it: as it is, or its start and length when it is longer than any resource's.</summary>
    public static string Show(string name) => name.Length <= MaxNameLength ? name : $"{name[..64]}… ({name.Length} characters)";

    /// <summary>Parses a lower-case (or any case) enum name as the API and the wire spell it; false for anything else, numbers included.</summary>
    public static bool TryParse<TEnum>(string? text, out TEnum value) where TEnum : struct, Enum
    {
        value = default;
        // Letters only: Enum.TryParse also takes numbers and comma-joined lists ("read,write" would be one flag value).
        return text is { Length: > 0 and < 16 } && text.All(char.IsAsciiLetter) && Enum.TryParse(text, ignoreCase: true, out value) && Enum.IsDefined(value);
    }

    /// <summary>What is wrong with the entry, or null.</summary>
    public string? Check()
    {
        if (Principal != Wildcard && Principals.Check(Principal) is { } principalError)
        {
            return "principal: " + principalError;
        }
        if (string.IsNullOrEmpty(ResourceName) || ResourceName.Length > MaxNameLength || ResourceName.Any(char.IsControl))
        {
            return $"resource.name has 1 to {MaxNameLength} characters and no control characters.";
        }
        if (ResourceType == AclResourceType.Cluster && (ResourceName != ClusterName || Pattern != AclPatternType.Literal))
        {
            return $"the cluster resource is named '{ClusterName}' (a literal).";
        }
        if (Pattern == AclPatternType.Prefixed && ResourceName == Wildcard)
        {
            return "a prefixed pattern of '*' means every name: use the literal '*'.";
        }
        return null;
    }
}
