using System.Text;
using System.Text.Json;

namespace Broker.Schemas.Avro;

/// <summary>
/// The registry's <c>normalize</c> option: a schema rewritten so that schemas meaning the same thing read
/// the same, beyond what the canonical text already evens out. Named types and references by full name,
/// custom properties sorted by key, aliases sorted, object keys of default values sorted, a decimal's
/// scale of 0 left out. The result is canonicalized again, so it is stored in the usual shape.
/// </summary>
public static class AvroNormalForm
{
    private static readonly HashSet<string> s_primitives = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];
    private static readonly HashSet<string> s_reserved = ["type", "name", "namespace", "doc", "fields", "items", "values", "symbols", "size", "aliases", "default"];
    private static readonly HashSet<string> s_fieldReserved = ["name", "type", "doc", "default", "order", "aliases"];

    /// <summary>The normalized schema of <paramref name="schema"/>, parsed and canonical.</summary>
    public static AvroSchema Normalize(AvroSchema schema)
    {
        using var document = JsonDocument.Parse(schema.Canonical);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Write(writer, document.RootElement, space: null);
        }
        // The same types as the schema given, which was held to its limits when it was parsed.
        return AvroCanonicalForm.Parse(Encoding.UTF8.GetString(output.WrittenSpan), AvroSchemaLimits.None);
    }

    private static void Write(Utf8JsonWriter writer, JsonElement schema, string? space)
    {
        switch (schema.ValueKind)
        {
            case JsonValueKind.String:
                var name = schema.GetString()!;
                writer.WriteStringValue(s_primitives.Contains(name) ? name : FullName(name, null, space));
                return;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var branch in schema.EnumerateArray())
                {
                    Write(writer, branch, space);
                }
                writer.WriteEndArray();
                return;
        }
        var type = schema.GetProperty("type").GetString()!;
        writer.WriteStartObject();
        string? own = space;
        if (type is "record" or "error" or "enum" or "fixed")
        {
            var full = FullName(schema.GetProperty("name").GetString()!, schema.TryGetProperty("namespace", out var ns) ? ns.GetString() : null, space);
            own = SpaceOf(full);
            writer.WriteString("name", full);
            if (own is null && space is not null)
            {
                writer.WriteString("namespace", ""); // the null namespace inside a named one must stay said
            }
        }
        writer.WriteString("type", type);
        switch (type)
        {
            case "record" or "error":
                writer.WriteStartArray("fields");
                foreach (var field in schema.GetProperty("fields").EnumerateArray())
                {
                    WriteField(writer, field, own);
                }
                writer.WriteEndArray();
                break;
            case "enum":
                writer.WritePropertyName("symbols");
                schema.GetProperty("symbols").WriteTo(writer);
                break;
            case "fixed":
                writer.WritePropertyName("size");
                schema.GetProperty("size").WriteTo(writer);
                break;
            case "array":
                writer.WritePropertyName("items");
                Write(writer, schema.GetProperty("items"), space);
                break;
            case "map":
                writer.WritePropertyName("values");
                Write(writer, schema.GetProperty("values"), space);
                break;
        }
        CopyIfPresent(writer, schema, "doc");
        if (schema.TryGetProperty("aliases", out var aliases))
        {
            WriteSorted(writer, "aliases", aliases.EnumerateArray().Select(a => FullName(a.GetString()!, null, own)));
        }
        if (type == "enum" && schema.TryGetProperty("default", out var symbol))
        {
            writer.WritePropertyName("default");
            symbol.WriteTo(writer);
        }
        var isDecimal = schema.TryGetProperty("logicalType", out var logical) && logical.ValueKind == JsonValueKind.String && logical.GetString() == "decimal";
        WriteProps(writer, schema, s_reserved, skip: p => isDecimal && p.Name == "scale" && p.Value.ValueKind == JsonValueKind.Number && p.Value.GetDecimal() == 0);
        writer.WriteEndObject();
    }

    private static void WriteField(Utf8JsonWriter writer, JsonElement field, string? space)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("name");
        field.GetProperty("name").WriteTo(writer);
        writer.WritePropertyName("type");
        Write(writer, field.GetProperty("type"), space);
        CopyIfPresent(writer, field, "order");
        CopyIfPresent(writer, field, "doc");
        if (field.TryGetProperty("aliases", out var aliases))
        {
            WriteSorted(writer, "aliases", aliases.EnumerateArray().Select(a => a.GetString()!));
        }
        if (field.TryGetProperty("default", out var value))
        {
            writer.WritePropertyName("default");
            WriteValueSorted(writer, value);
        }
        WriteProps(writer, field, s_fieldReserved, skip: null);
        writer.WriteEndObject();
    }

    private static void WriteProps(Utf8JsonWriter writer, JsonElement element, HashSet<string> reserved, Func<JsonProperty, bool>? skip)
    {
        foreach (var property in element.EnumerateObject().Where(p => !reserved.Contains(p.Name)).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (skip?.Invoke(property) == true)
            {
                continue;
            }
            writer.WritePropertyName(property.Name);
            WriteValueSorted(writer, property.Value);
        }
    }

    /// <summary>A JSON value with the keys of every object in it sorted (key order means nothing in a value).</summary>
    private static void WriteValueSorted(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteValueSorted(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    WriteValueSorted(writer, item);
                }
                writer.WriteEndArray();
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }

    private static void CopyIfPresent(Utf8JsonWriter writer, JsonElement element, string name)
    {
        if (element.TryGetProperty(name, out var value))
        {
            writer.WritePropertyName(name);
            value.WriteTo(writer);
        }
    }

    private static void WriteSorted(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }

    private static string FullName(string name, string? declaredSpace, string? enclosingSpace)
    {
        if (name.Contains('.', StringComparison.Ordinal))
        {
            return name;
        }
        var space = declaredSpace ?? enclosingSpace;
        return string.IsNullOrEmpty(space) ? name : space + "." + name;
    }

    private static string? SpaceOf(string full)
    {
        var dot = full.LastIndexOf('.');
        return dot < 0 ? null : full[..dot];
    }
}
