using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orders;

/// <summary>Orders as JSON on the topic (camelCase, as the Dapr app and the REST API read them), source-generated.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Order))]
public sealed partial class OrdersJson : JsonSerializerContext;
