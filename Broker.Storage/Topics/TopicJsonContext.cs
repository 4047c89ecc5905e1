using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Storage.Topics;

/// <summary>Source-generated JSON for stored topic configurations (codec names as strings).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(TopicConfig))]
internal sealed partial class TopicJsonContext : JsonSerializerContext;
