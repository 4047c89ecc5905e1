using System.Text.Json;
using System.Text.Json.Serialization;
using Broker.ServiceDefaults.Security.Acls;

namespace Broker.Storage.Acls;

/// <summary>An entry as the store keeps it: one canonical JSON text per entry (the same entry is always the same text).</summary>
internal static class AclEntryJson
{
    public static string Serialize(AclEntry entry) => JsonSerializer.Serialize(
        new Document(entry.Principal, AclEntry.Name(entry.ResourceType), entry.ResourceName, AclEntry.Name(entry.Pattern),
            AclEntry.Name(entry.Operation), AclEntry.Name(entry.Permission)),
        AclJsonContext.Default.Document);

    /// <summary>The entry, or null for text this version does not understand (skipped, never widened into an allow).</summary>
    public static AclEntry? Deserialize(string json)
    {
        Document? d;
        try
        {
            d = JsonSerializer.Deserialize(json, AclJsonContext.Default.Document);
        }
        catch (JsonException)
        {
            return null;
        }
        return d is not null
            && AclEntry.TryParse<AclResourceType>(d.ResourceType, out var type)
            && AclEntry.TryParse<AclPatternType>(d.Pattern, out var pattern)
            && AclEntry.TryParse<AclOperation>(d.Operation, out var operation)
            && AclEntry.TryParse<AclPermission>(d.Permission, out var permission)
            ? new AclEntry(d.Principal, type, d.ResourceName, pattern, operation, permission)
            : null;
    }

    internal sealed record Document(string Principal, string ResourceType, string ResourceName, string Pattern, string Operation, string Permission);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(AclEntryJson.Document))]
internal sealed partial class AclJsonContext : JsonSerializerContext;
