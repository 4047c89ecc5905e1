using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Client.Admin;

/// <summary>The admin API's bodies, as the services write them (camelCase, nulls left out), source-generated.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TopicSettings))]
[JsonSerializable(typeof(TopicDescription))]
[JsonSerializable(typeof(TopicList))]
[JsonSerializable(typeof(GroupDescription))]
[JsonSerializable(typeof(ReplayRequest))]
[JsonSerializable(typeof(ReplayStatus))]
[JsonSerializable(typeof(SchemaBody))]
[JsonSerializable(typeof(SchemaId))]
[JsonSerializable(typeof(CompatibilityBody))]
internal sealed partial class AdminJson : JsonSerializerContext;

internal sealed record TopicList(IReadOnlyList<TopicDescription> Topics);

internal sealed record SchemaBody(string Schema);

internal sealed record SchemaId(int Id);

internal sealed record CompatibilityBody([property: JsonPropertyName("is_compatible")] bool IsCompatible, IReadOnlyList<string>? Messages);
