using System.Buffers;
using System.Globalization;
using System.Text;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Avro;

namespace Broker.Schemas.Avro;

/// <summary>A JSON value that does not fit its schema; the message says where and why.</summary>
public sealed class AvroEncodingException(string message) : Exception(message);

/// <summary>
/// Encodes a value in Avro's JSON encoding (as the Confluent REST proxy takes it: a union value other than
/// null wrapped as <c>{"branch type name": value}</c>, bytes and fixed as strings of code points 0-255)
/// into Avro binary with the given schema. A record field left out takes its schema default.
/// </summary>
public static class AvroJsonEncoder
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Field, byte[]> s_defaults = [];

    public static byte[] Encode(Schema schema, JsonElement value)
    {
        var output = new ArrayBufferWriter<byte>(256);
        Write(schema, value, output, "", isDefault: false);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Encodes a field default: like <see cref="Encode"/>, but a union's value is unwrapped and of its first branch.</summary>
    public static byte[] EncodeDefault(Schema schema, JsonElement value)
    {
        var output = new ArrayBufferWriter<byte>(64);
        Write(schema, value, output, "", isDefault: true);
        return output.WrittenSpan.ToArray();
    }

    private static void Write(Schema schema, JsonElement value, ArrayBufferWriter<byte> output, string path, bool isDefault)
    {
        switch (schema.Tag)
        {
            case Schema.Type.Null:
                Expect(value.ValueKind == JsonValueKind.Null, path, "null", value);
                break;
            case Schema.Type.Boolean:
                Expect(value.ValueKind is JsonValueKind.True or JsonValueKind.False, path, "a boolean", value);
                output.GetSpan(1)[0] = value.ValueKind == JsonValueKind.True ? (byte)1 : (byte)0;
                output.Advance(1);
                break;
            case Schema.Type.Int:
                Expect(value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out _), path, "an int", value);
                WriteLong(output, value.GetInt32());
                break;
            case Schema.Type.Long:
                Expect(value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _), path, "a long", value);
                WriteLong(output, value.GetInt64());
                break;
            case Schema.Type.Float:
                Expect(value.ValueKind == JsonValueKind.Number, path, "a float", value);
                BitConverter.TryWriteBytes(output.GetSpan(4), value.GetSingle());
                output.Advance(4);
                break;
            case Schema.Type.Double:
                Expect(value.ValueKind == JsonValueKind.Number, path, "a double", value);
                BitConverter.TryWriteBytes(output.GetSpan(8), value.GetDouble());
                output.Advance(8);
                break;
            case Schema.Type.String:
                Expect(value.ValueKind == JsonValueKind.String, path, "a string", value);
                WriteBytes(output, Encoding.UTF8.GetBytes(value.GetString()!));
                break;
            case Schema.Type.Bytes:
                Expect(value.ValueKind == JsonValueKind.String, path, "bytes (a string of code points 0-255)", value);
                WriteBytes(output, Latin1(value.GetString()!, path));
                break;
            case Schema.Type.Fixed:
                var fixedSchema = (FixedSchema)schema;
                Expect(value.ValueKind == JsonValueKind.String, path, $"fixed '{fixedSchema.Fullname}' (a string of code points 0-255)", value);
                var bytes = Latin1(value.GetString()!, path);
                if (bytes.Length != fixedSchema.Size)
                {
                    throw new AvroEncodingException($"{Where(path)}: fixed '{fixedSchema.Fullname}' is {fixedSchema.Size} bytes; the value has {bytes.Length}.");
                }
                bytes.CopyTo(output.GetSpan(bytes.Length));
                output.Advance(bytes.Length);
                break;
            case Schema.Type.Enumeration:
                var enumSchema = (EnumSchema)schema;
                Expect(value.ValueKind == JsonValueKind.String, path, $"a symbol of enum '{enumSchema.Fullname}'", value);
                var ordinal = enumSchema.Symbols.IndexOf(value.GetString()!);
                if (ordinal < 0)
                {
                    throw new AvroEncodingException($"{Where(path)}: '{value.GetString()}' is not a symbol of enum '{enumSchema.Fullname}' ({string.Join(", ", enumSchema.Symbols)}).");
                }
                WriteLong(output, ordinal);
                break;
            case Schema.Type.Array:
                Expect(value.ValueKind == JsonValueKind.Array, path, "an array", value);
                var items = ((ArraySchema)schema).ItemSchema;
                if (value.GetArrayLength() > 0)
                {
                    WriteLong(output, value.GetArrayLength());
                    var index = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        Write(items, item, output, $"{path}/{index++}", isDefault);
                    }
                }
                WriteLong(output, 0);
                break;
            case Schema.Type.Map:
                Expect(value.ValueKind == JsonValueKind.Object, path, "a map (a JSON object)", value);
                var values = ((MapSchema)schema).ValueSchema;
                var entries = value.EnumerateObject().ToList();
                if (entries.Count > 0)
                {
                    WriteLong(output, entries.Count);
                    foreach (var entry in entries)
                    {
                        WriteBytes(output, Encoding.UTF8.GetBytes(entry.Name));
                        Write(values, entry.Value, output, $"{path}/{entry.Name}", isDefault);
                    }
                }
                WriteLong(output, 0);
                break;
            case Schema.Type.Record or Schema.Type.Error:
                var record = (RecordSchema)schema;
                Expect(value.ValueKind == JsonValueKind.Object, path, $"record '{record.Fullname}' (a JSON object)", value);
                foreach (var field in record.Fields)
                {
                    if (value.TryGetProperty(field.Name, out var fieldValue))
                    {
                        Write(field.Schema, fieldValue, output, $"{path}/{field.Name}", isDefault);
                    }
                    else if (field.DefaultValue is not null)
                    {
                        var fallback = EncodedDefault(field, $"{path}/{field.Name}");
                        fallback.CopyTo(output.GetSpan(fallback.Length));
                        output.Advance(fallback.Length);
                    }
                    else
                    {
                        throw new AvroEncodingException($"{Where(path)}: field '{field.Name}' of record '{record.Fullname}' is missing and has no default.");
                    }
                }
                break;
            case Schema.Type.Union:
                WriteUnion((UnionSchema)schema, value, output, path, isDefault);
                break;
            case Schema.Type.Logical:
                Write(((LogicalSchema)schema).BaseSchema, value, output, path, isDefault);
                break;
            default:
                throw new AvroEncodingException($"{Where(path)}: schema type {schema.Tag} cannot be encoded.");
        }
    }

    /// <summary>Java's rule for a valid default (Schema.isValidDefault): a union's may fit any branch; enums and fixed take any string.</summary>
    /// <remarks>
    /// A union tries its branches on the same part of the value, and the branches of unions inside them again:
    /// each (type, part of the value) pair is decided once and remembered, so the check costs at most the types
    /// times the parts of the value, not branches^depth.
    /// </remarks>
    public static bool IsValidDefault(Schema schema, JsonElement value)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(value.GetRawText(), documentOptions: new JsonDocumentOptions { MaxDepth = AvroBinaryValidator.MaxDepth });
        }
        catch (JsonException)
        {
            return false; // nested deeper than any value may be
        }
        return new DefaultChecker().IsValid(schema, node, 0);
    }

    private sealed class DefaultChecker
    {
        private readonly Dictionary<(Schema Schema, JsonNode Value), bool> _known = new(NodePairComparer.Instance);

        public bool IsValid(Schema schema, JsonNode? value, int depth)
        {
            if (depth > AvroBinaryValidator.MaxDepth)
            {
                return false;
            }
            if (value is JsonObject or JsonArray)
            {
                if (_known.TryGetValue((schema, value), out var decided))
                {
                    return decided;
                }
                var valid = Decide(schema, value, depth);
                _known[(schema, value)] = valid;
                return valid;
            }
            return Decide(schema, value, depth);
        }

        private bool Decide(Schema schema, JsonNode? value, int depth) => schema switch
        {
            LogicalSchema logical => IsValid(logical.BaseSchema, value, depth + 1),
            UnionSchema union => union.Schemas.Any(branch => IsValid(branch, value, depth + 1)),
            ArraySchema array => value is JsonArray items && items.All(item => IsValid(array.ItemSchema, item, depth + 1)),
            MapSchema map => value is JsonObject entries && entries.All(entry => IsValid(map.ValueSchema, entry.Value, depth + 1)),
            RecordSchema record => value is JsonObject fields && record.Fields.All(f =>
                fields.TryGetPropertyValue(f.Name, out var fieldValue) ? IsValid(f.Schema, fieldValue, depth + 1) : f.DefaultValue is not null),
            _ => (schema.Tag, value?.GetValueKind() ?? JsonValueKind.Null) switch
            {
                (Schema.Type.Null, JsonValueKind.Null) => true,
                (Schema.Type.Boolean, JsonValueKind.True or JsonValueKind.False) => true,
                (Schema.Type.Int, JsonValueKind.Number) => value!.GetValue<JsonElement>().TryGetInt32(out _),
                (Schema.Type.Long, JsonValueKind.Number) => value!.GetValue<JsonElement>().TryGetInt64(out _),
                (Schema.Type.Float or Schema.Type.Double, JsonValueKind.Number) => true,
                (Schema.Type.String or Schema.Type.Bytes or Schema.Type.Enumeration or Schema.Type.Fixed, JsonValueKind.String) => true,
                _ => false,
            },
        };
    }

    /// <summary>A (type, part of a JSON value) pair by the identity of both.</summary>
    private sealed class NodePairComparer : IEqualityComparer<(Schema Schema, JsonNode Value)>
    {
        public static NodePairComparer Instance { get; } = new();

        public bool Equals((Schema Schema, JsonNode Value) x, (Schema Schema, JsonNode Value) y) =>
            ReferenceEquals(x.Schema, y.Schema) && ReferenceEquals(x.Value, y.Value);

        public int GetHashCode((Schema Schema, JsonNode Value) obj) =>
            HashCode.Combine(RuntimeHelpers.GetHashCode(obj.Schema), RuntimeHelpers.GetHashCode(obj.Value));
    }

    /// <summary>A field's default in binary, encoded once per field (a schema's fields live as long as the schema).</summary>
    private static byte[] EncodedDefault(Field field, string path) => s_defaults.GetValue(field, f =>
    {
        using var json = JsonDocument.Parse(f.DefaultValue.ToString(Newtonsoft.Json.Formatting.None));
        var output = new ArrayBufferWriter<byte>(64);
        Write(f.Schema, json.RootElement, output, path, isDefault: true);
        return output.WrittenSpan.ToArray();
    });

    private static void WriteUnion(UnionSchema union, JsonElement value, ArrayBufferWriter<byte> output, string path, bool isDefault)
    {
        if (isDefault)
        {
            // A default is unwrapped: in the first branch it fits (the specification says the first; Avro's readers take any).
            var fitting = IndexOf(union, branch => IsValidDefault(branch, value));
            WriteLong(output, Math.Max(fitting, 0));
            Write(union.Schemas[Math.Max(fitting, 0)], value, output, path, isDefault);
            return;
        }
        if (value.ValueKind == JsonValueKind.Null)
        {
            var nullBranch = IndexOf(union, s => s.Tag == Schema.Type.Null);
            if (nullBranch < 0)
            {
                throw new AvroEncodingException($"{Where(path)}: null is not a branch of the union {union}.");
            }
            WriteLong(output, nullBranch);
            return;
        }
        if (value.ValueKind != JsonValueKind.Object || value.EnumerateObject().Count() != 1)
        {
            throw new AvroEncodingException($"{Where(path)}: a union value other than null is written as {{\"<type name>\": value}}; got {Describe(value)}.");
        }
        var wrapper = value.EnumerateObject().Single();
        var branch = IndexOf(union, s => BranchName(s) == wrapper.Name || (s is NamedSchema named && named.Name == wrapper.Name));
        if (branch < 0)
        {
            throw new AvroEncodingException(
                $"{Where(path)}: '{wrapper.Name}' is not a branch of the union ({string.Join(", ", union.Schemas.Select(BranchName))}).");
        }
        WriteLong(output, branch);
        Write(union.Schemas[branch], wrapper.Value, output, $"{path}/{wrapper.Name}", isDefault);
    }

    private static string BranchName(Schema schema) => schema switch
    {
        NamedSchema named => named.Fullname,
        LogicalSchema logical => BranchName(logical.BaseSchema),
        _ => schema.Tag switch
        {
            Schema.Type.Array => "array",
            Schema.Type.Map => "map",
            _ => schema.Tag.ToString().ToLowerInvariant(),
        },
    };

    private static int IndexOf(UnionSchema union, Func<Schema, bool> match)
    {
        for (var i = 0; i < union.Schemas.Count; i++)
        {
            if (match(union.Schemas[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static byte[] Latin1(string text, string path)
    {
        var bytes = new byte[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] > 0xff)
            {
                throw new AvroEncodingException($"{Where(path)}: bytes are written as a string of code points 0 to 255; '{text[i]}' is not one.");
            }
            bytes[i] = (byte)text[i];
        }
        return bytes;
    }

    private static void Expect(bool ok, string path, string what, JsonElement value)
    {
        if (!ok)
        {
            throw new AvroEncodingException($"{Where(path)}: expected {what}; got {Describe(value)}.");
        }
    }

    private static string Where(string path) => path.Length == 0 ? "The value" : $"At '{path}'";

    private static string Describe(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length > 60 ? string.Create(CultureInfo.InvariantCulture, $"{value.ValueKind} {text[..57]}...") : $"{value.ValueKind} {text}";
    }

    private static void WriteBytes(ArrayBufferWriter<byte> output, byte[] bytes)
    {
        WriteLong(output, bytes.Length);
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    private static void WriteLong(ArrayBufferWriter<byte> output, long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        var span = output.GetSpan(10);
        var i = 0;
        while (zigzag >= 0x80)
        {
            span[i++] = (byte)(zigzag | 0x80);
            zigzag >>= 7;
        }
        span[i++] = (byte)zigzag;
        output.Advance(i);
    }
}
