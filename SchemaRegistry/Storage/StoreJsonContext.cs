using System.Text.Json.Serialization;

namespace SchemaRegistry.Storage;

/// <summary>A schema as the stores keep it (the id is the key).</summary>
public sealed record SchemaDocument(string SchemaType, string Schema, string Fingerprint);

/// <summary>The whole registry as the file store keeps it.</summary>
public sealed record RegistryDocument(
    int NextId,
    Dictionary<int, SchemaDocument> Schemas,
    Dictionary<string, StoredSubject> Subjects,
    Dictionary<string, Dictionary<string, string>> Settings);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SchemaDocument))]
[JsonSerializable(typeof(StoredVersion[]))]
[JsonSerializable(typeof(RegistryDocument))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
