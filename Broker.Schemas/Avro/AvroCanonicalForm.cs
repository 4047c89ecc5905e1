using System.Text;
using System.Text.Json;

namespace Broker.Schemas.Avro;

/// <summary>
/// A parsed, valid Avro schema: Apache.Avro's model (for reading and checking), the canonical text it is
/// stored and compared under, and the aliases of its named types (which the model keeps to itself).
/// </summary>
public sealed class AvroSchema(global::Avro.Schema schema, string canonical, IReadOnlyDictionary<string, IReadOnlySet<string>> aliases)
{
    public global::Avro.Schema Schema { get; } = schema;
    public string Canonical { get; } = canonical;

    /// <summary>Whether the named type <paramref name="fullName"/> lists <paramref name="alias"/> (a full name) among its aliases.</summary>
    public bool HasAlias(string fullName, string alias) => aliases.TryGetValue(fullName, out var set) && set.Contains(alias);

    /// <summary>Whether the named type <paramref name="fullName"/> lists any aliases.</summary>
    public bool HasAliases(string fullName) => aliases.ContainsKey(fullName);

    public override string ToString() => Canonical;
}

/// <summary>An Avro schema that does not parse, or breaks the specification; the message says where.</summary>
public sealed class InvalidSchemaException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The text a schema is stored and compared under: what Avro's Java <c>Schema.toString()</c> writes, as the
/// Confluent registry stores it. Compact JSON, attributes in Java's order (type, name, namespace, doc,
/// then the type's own, then custom properties in their order, then aliases), a primitive without
/// properties as a bare string, a named type written in full once and by name afterwards (short where
/// the namespace is the enclosing one). So the same schema written with other whitespace or key order
/// gets the same text, and so the same id.
/// </summary>
public static class AvroCanonicalForm
{
    private static readonly HashSet<string> s_primitives = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

    // Java's reserved attributes: never custom properties, whatever the kind (so a doc on an array is dropped,
    // as Java drops it); anything else is a custom property, kept in order.
    private static readonly HashSet<string> s_schemaReserved = ["doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases"];
    private static readonly HashSet<string> s_enumReserved = [.. s_schemaReserved, "default"];
    private static readonly HashSet<string> s_fieldReserved = ["name", "type", "doc", "default", "order", "aliases"];

    /// <summary>Parses and validates <paramref name="schemaText"/>; answers its canonical text.</summary>
    public static string Canonicalize(string schemaText) => Parse(schemaText).Canonical;

    /// <summary>Parses and validates <paramref name="schemaText"/> within <see cref="AvroSchemaLimits.Default"/>.</summary>
    public static AvroSchema Parse(string schemaText) => Parse(schemaText, AvroSchemaLimits.Default);

    /// <summary>
    /// Parses and validates <paramref name="schemaText"/>: the schema, its canonical text, and its named types'
    /// aliases. A schema past <paramref name="limits"/> is an <see cref="InvalidSchemaException"/> naming the limit.
    /// </summary>
    public static AvroSchema Parse(string schemaText, AvroSchemaLimits limits)
    {
        global::Avro.Schema parsed;
        try
        {
            // Apache.Avro checks the specification (names, defaults, duplicate symbols and fields, references).
            parsed = global::Avro.Schema.Parse(schemaText);
        }
        catch (Exception ex) when (ex is global::Avro.AvroException or global::Avro.SchemaParseException or Newtonsoft.Json.JsonException
            or ArgumentException or InvalidOperationException or FormatException or NullReferenceException
            // A number no int holds where Apache.Avro reads one (a decimal's precision or scale of 2^31): OverflowException.
            or ArithmeticException)
        {
            throw new InvalidSchemaException($"Invalid schema: {ex.Message}", ex);
        }
        CheckLimits(parsed, limits);
        using var document = ParseJson(schemaText);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var canonicalizer = default(Canonicalizer);
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            canonicalizer = new Canonicalizer(writer);
            canonicalizer.Write(document.RootElement, space: null);
        }
        CheckDefaults(parsed, new HashSet<string>(StringComparer.Ordinal));
        var canonical = Encoding.UTF8.GetString(output.WrittenSpan);
        CheckRoundTrip(parsed, canonical);
        return new AvroSchema(parsed, canonical, canonicalizer.Aliases);
    }

    /// <summary>The schema's size in types and the depth of their nesting, before anything else walks it.</summary>
    private static void CheckLimits(global::Avro.Schema? parsed, AvroSchemaLimits limits)
    {
        if (parsed is null)
        {
            return; // a reference Apache.Avro could not resolve: the canonical form says which
        }
        var (types, nesting) = AvroSchemaWalk.Measure(parsed, limits.MaxTypes, limits.MaxNesting);
        if (types > limits.MaxTypes)
        {
            throw new InvalidSchemaException(
                $"Invalid schema: it has more than {limits.MaxTypes} types; the limit (MaxSchemaTypes) is {limits.MaxTypes}.");
        }
        if (nesting > limits.MaxNesting)
        {
            throw new InvalidSchemaException(
                $"Invalid schema: its types nest more than {limits.MaxNesting} levels deep; the limit (MaxSchemaNesting) is {limits.MaxNesting}.");
        }
    }

    /// <summary>
    /// The canonical text must be the same schema again: where Apache.Avro's reading of a name differs from
    /// Java's (an empty namespace inside a named one, say), refuse rather than store text that means another schema.
    /// </summary>
    private static void CheckRoundTrip(global::Avro.Schema parsed, string canonical)
    {
        try
        {
            var again = global::Avro.Schema.Parse(canonical);
            if (global::Avro.SchemaNormalization.ParsingFingerprint64(again) == global::Avro.SchemaNormalization.ParsingFingerprint64(parsed))
            {
                return;
            }
        }
        catch (Exception ex) when (ex is global::Avro.AvroException or Newtonsoft.Json.JsonException or ArgumentException
            or InvalidOperationException or NullReferenceException or FormatException or ArithmeticException)
        {
            // Falls through to the refusal below.
        }
        throw new InvalidSchemaException("Invalid schema: its names do not resolve the same way in Avro's readers (an empty namespace inside a named type?); "
            + "write full names instead.");
    }

    /// <summary>Every field default must be a value of the field's type (a union's: of its first branch), as Avro's Java parser checks.</summary>
    private static void CheckDefaults(global::Avro.Schema schema, HashSet<string> seen)
    {
        switch (schema)
        {
            case global::Avro.RecordSchema record when seen.Add(record.Fullname):
                foreach (var field in record.Fields)
                {
                    if (field.DefaultValue is { } value)
                    {
                        using var json = JsonDocument.Parse(value.ToString(Newtonsoft.Json.Formatting.None));
                        if (!AvroJsonEncoder.IsValidDefault(field.Schema, json.RootElement))
                        {
                            throw new InvalidSchemaException(
                                $"Invalid schema: the default of field '{field.Name}' in '{record.Fullname}' is not a value of its type ({json.RootElement.GetRawText()}).");
                        }
                    }
                    CheckDefaults(field.Schema, seen);
                }
                break;
            case global::Avro.ArraySchema array:
                CheckDefaults(array.ItemSchema, seen);
                break;
            case global::Avro.MapSchema map:
                CheckDefaults(map.ValueSchema, seen);
                break;
            case global::Avro.UnionSchema union:
                foreach (var branch in union.Schemas)
                {
                    CheckDefaults(branch, seen);
                }
                break;
        }
    }

    private static JsonDocument ParseJson(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            // A bare primitive name without quotes ("string" written as string) is not JSON; Avro's parser accepts none of that either.
            throw new InvalidSchemaException($"Invalid schema: {ex.Message}", ex);
        }
    }

    private sealed class Canonicalizer(Utf8JsonWriter writer)
    {
        private readonly HashSet<string> _defined = new(StringComparer.Ordinal);

        /// <summary>Full name of each named type → the full names of its aliases.</summary>
        public Dictionary<string, IReadOnlySet<string>> Aliases { get; } = new(StringComparer.Ordinal);

        public void Write(JsonElement schema, string? space)
        {
            switch (schema.ValueKind)
            {
                case JsonValueKind.String:
                    WriteReference(schema.GetString()!, space);
                    return;
                case JsonValueKind.Array:
                    writer.WriteStartArray();
                    foreach (var branch in schema.EnumerateArray())
                    {
                        Write(branch, space);
                    }
                    writer.WriteEndArray();
                    return;
                case JsonValueKind.Object:
                    WriteObject(schema, space);
                    return;
                default:
                    throw new InvalidSchemaException($"Invalid schema: {schema.ValueKind} is not a schema.");
            }
        }

        private void WriteReference(string name, string? space)
        {
            if (s_primitives.Contains(name))
            {
                writer.WriteStringValue(name);
                return;
            }
            var full = FullName(name, null, space);
            if (!_defined.Contains(full))
            {
                // Apache.Avro's parser does not always catch this one.
                throw new InvalidSchemaException($"Invalid schema: '{name}' is neither a primitive type nor a named type defined before it.");
            }
            writer.WriteStringValue(Qualified(full, space));
        }

        private void WriteObject(JsonElement schema, string? space)
        {
            var type = schema.TryGetProperty("type", out var t) ? t : default;
            if (type.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            {
                // {"type": {...}} or {"type": [...]}: the inner schema, with this object's properties lost as Java loses them.
                Write(type, space);
                return;
            }
            var typeName = type.ValueKind == JsonValueKind.String ? type.GetString()! : throw new InvalidSchemaException("Invalid schema: no type.");
            switch (typeName)
            {
                case "record" or "error":
                    WriteRecord(schema, typeName, space);
                    break;
                case "enum":
                    WriteNamed(schema, "enum", space, s_enumReserved, _ =>
                    {
                        WriteDoc(schema);
                        writer.WritePropertyName("symbols");
                        schema.GetProperty("symbols").WriteTo(writer);
                        if (schema.TryGetProperty("default", out var symbol))
                        {
                            writer.WritePropertyName("default");
                            symbol.WriteTo(writer);
                        }
                    });
                    break;
                case "fixed":
                    WriteNamed(schema, "fixed", space, s_schemaReserved, _ =>
                    {
                        WriteDoc(schema);
                        writer.WritePropertyName("size");
                        schema.GetProperty("size").WriteTo(writer);
                    });
                    break;
                case "array":
                    WriteContainer(schema, "array", "items", s_schemaReserved, space);
                    break;
                case "map":
                    WriteContainer(schema, "map", "values", s_schemaReserved, space);
                    break;
                default:
                    if (!s_primitives.Contains(typeName))
                    {
                        // {"type":"SomeNamedType"}: a reference.
                        WriteReference(typeName, space);
                        break;
                    }
                    if (!HasProps(schema, s_schemaReserved))
                    {
                        writer.WriteStringValue(typeName);
                        break;
                    }
                    writer.WriteStartObject();
                    writer.WriteString("type", typeName);
                    WriteProps(schema, s_schemaReserved);
                    writer.WriteEndObject();
                    break;
            }
        }

        /// <summary>An array or map: its type, the schema of its items or values, its custom properties.</summary>
        private void WriteContainer(JsonElement schema, string typeName, string inner, HashSet<string> reserved, string? space)
        {
            writer.WriteStartObject();
            writer.WriteString("type", typeName);
            writer.WritePropertyName(inner);
            Write(schema.GetProperty(inner), space);
            WriteProps(schema, reserved);
            writer.WriteEndObject();
        }

        private void WriteRecord(JsonElement schema, string typeName, string? space)
        {
            WriteNamed(schema, typeName, space, s_schemaReserved, inner =>
            {
                WriteDoc(schema);
                writer.WritePropertyName("fields");
                writer.WriteStartArray();
                foreach (var field in schema.GetProperty("fields").EnumerateArray())
                {
                    writer.WriteStartObject();
                    writer.WritePropertyName("name");
                    field.GetProperty("name").WriteTo(writer);
                    writer.WritePropertyName("type");
                    Write(field.GetProperty("type"), inner);
                    WriteDoc(field);
                    if (field.TryGetProperty("default", out var value))
                    {
                        writer.WritePropertyName("default");
                        value.WriteTo(writer);
                    }
                    if (field.TryGetProperty("order", out var order) && order.ValueKind == JsonValueKind.String && order.GetString() != "ascending")
                    {
                        writer.WriteString("order", order.GetString());
                    }
                    if (field.TryGetProperty("aliases", out var aliases) && aliases.ValueKind == JsonValueKind.Array && aliases.GetArrayLength() > 0)
                    {
                        writer.WritePropertyName("aliases");
                        aliases.WriteTo(writer);
                    }
                    WriteProps(field, s_fieldReserved);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            });
        }

        /// <summary>type, name, namespace (when not the enclosing one), the kind's own attributes, custom properties, aliases.</summary>
        private void WriteNamed(JsonElement schema, string typeName, string? space, HashSet<string> reserved, Action<string?> body)
        {
            var name = schema.GetProperty("name").GetString()!;
            var declaredSpace = schema.TryGetProperty("namespace", out var ns) && ns.ValueKind == JsonValueKind.String ? ns.GetString() : null;
            var full = FullName(name, declaredSpace, space);
            var (own, simple) = Split(full);
            if (!_defined.Add(full))
            {
                throw new InvalidSchemaException($"Invalid schema: the type '{full}' is defined twice.");
            }
            writer.WriteStartObject();
            writer.WriteString("type", typeName);
            writer.WriteString("name", simple);
            if (own is not null && own != space)
            {
                writer.WriteString("namespace", own);
            }
            else if (own is null && space is not null)
            {
                writer.WriteString("namespace", "");
            }
            body(own);
            WriteProps(schema, reserved);
            if (schema.TryGetProperty("aliases", out var aliases) && aliases.ValueKind == JsonValueKind.Array && aliases.GetArrayLength() > 0)
            {
                var fullAliases = new HashSet<string>(StringComparer.Ordinal);
                writer.WritePropertyName("aliases");
                writer.WriteStartArray();
                foreach (var alias in aliases.EnumerateArray())
                {
                    var fullAlias = FullName(alias.GetString()!, null, own);
                    fullAliases.Add(fullAlias);
                    writer.WriteStringValue(Qualified(fullAlias, own));
                }
                writer.WriteEndArray();
                Aliases[full] = fullAliases;
            }
            writer.WriteEndObject();
        }

        private void WriteDoc(JsonElement element)
        {
            if (element.TryGetProperty("doc", out var doc) && doc.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("doc", doc.GetString());
            }
        }

        private void WriteProps(JsonElement element, HashSet<string> reserved)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (!reserved.Contains(property.Name))
                {
                    property.WriteTo(writer);
                }
            }
        }

        private static bool HasProps(JsonElement element, HashSet<string> reserved) =>
            element.EnumerateObject().Any(p => !reserved.Contains(p.Name));

        private static string FullName(string name, string? declaredSpace, string? enclosingSpace)
        {
            if (name.Contains('.', StringComparison.Ordinal))
            {
                return name;
            }
            var space = declaredSpace ?? enclosingSpace;
            return string.IsNullOrEmpty(space) ? name : space + "." + name;
        }

        private static (string? Space, string Name) Split(string full)
        {
            var dot = full.LastIndexOf('.');
            return dot < 0 ? (null, full) : (full[..dot], full[(dot + 1)..]);
        }

        private static string Qualified(string full, string? space)
        {
            var (own, simple) = Split(full);
            return own is not null && own == space ? simple : full;
        }
    }
}
