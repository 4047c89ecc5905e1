using System.Text.Unicode;
using Avro;

namespace Broker.Schemas.Avro;

/// <summary>
/// Checks that bytes are exactly one value of a schema in Avro's binary encoding: every varint well formed
/// and in range, every length inside the bytes, every string UTF-8, every enum symbol and union branch in
/// range, nothing left over. Walks the bytes without building the value, so it costs about a read.
/// </summary>
public static class AvroBinaryValidator
{
    /// <summary>More items than this in one value (arrays and maps together) is refused.</summary>
    public const long MaxItems = 1_000_000;

    /// <summary>Values nested deeper than this (a recursive schema) are refused: the walk recurses, and a stack overflow would end the process.</summary>
    public const int MaxDepth = 256;

    /// <summary>True when <paramref name="body"/> is one value of <paramref name="schema"/>; else false and what is wrong, where.</summary>
    public static bool TryValidate(Schema schema, ReadOnlySpan<byte> body, out string? error)
    {
        var reader = new Reader(body);
        if (!reader.Value(schema, 0, out error))
        {
            return false;
        }
        if (reader.Remaining > 0)
        {
            error = $"{reader.Remaining} bytes are left over after the value";
            return false;
        }
        error = null;
        return true;
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;
        private long _items;

        public readonly int Remaining => _bytes.Length - _position;

        public bool Value(Schema schema, int depth, out string? error)
        {
            error = null;
            if (depth > MaxDepth)
            {
                error = $"the value nests deeper than {MaxDepth} levels";
                return false;
            }
            switch (schema.Tag)
            {
                case Schema.Type.Null:
                    return true;
                case Schema.Type.Boolean:
                    if (Remaining < 1 || _bytes[_position] > 1)
                    {
                        error = Remaining < 1 ? "the value ends inside a boolean" : $"a boolean is byte {_bytes[_position]}, not 0 or 1";
                        return false;
                    }
                    _position++;
                    return true;
                case Schema.Type.Int:
                    return Int(out _, out error);
                case Schema.Type.Long:
                    return Long(out _, out error);
                case Schema.Type.Float:
                    return Skip(4, "a float", out error);
                case Schema.Type.Double:
                    return Skip(8, "a double", out error);
                case Schema.Type.Bytes:
                    return Length("bytes", out var byteCount, out error) && Skip(byteCount, "bytes", out error);
                case Schema.Type.String:
                    return String("a string", out error);
                case Schema.Type.Fixed:
                    return Skip(((FixedSchema)schema).Size, $"fixed '{((FixedSchema)schema).Fullname}'", out error);
                case Schema.Type.Enumeration:
                    var symbols = ((EnumSchema)schema).Symbols.Count;
                    if (!Int(out var symbol, out error))
                    {
                        return false;
                    }
                    if (symbol < 0 || symbol >= symbols)
                    {
                        error = $"enum '{((EnumSchema)schema).Fullname}' has {symbols} symbols; the value names symbol {symbol}";
                        return false;
                    }
                    return true;
                case Schema.Type.Union:
                    var branches = ((UnionSchema)schema).Schemas;
                    // The branch index is an int (Avro's readers refuse a longer encoding).
                    if (!Int(out var branch, out error))
                    {
                        return false;
                    }
                    if (branch < 0 || branch >= branches.Count)
                    {
                        error = $"the union has {branches.Count} branches; the value names branch {branch}";
                        return false;
                    }
                    if (!Value(branches[branch], depth + 1, out error))
                    {
                        error = $"union branch {branch}: {error}";
                        return false;
                    }
                    return true;
                case Schema.Type.Record or Schema.Type.Error:
                    foreach (var field in ((RecordSchema)schema).Fields)
                    {
                        if (!Value(field.Schema, depth + 1, out error))
                        {
                            error = $"field '{field.Name}': {error}";
                            return false;
                        }
                    }
                    return true;
                case Schema.Type.Array:
                    return Blocks(((ArraySchema)schema).ItemSchema, isMap: false, depth, out error);
                case Schema.Type.Map:
                    return Blocks(((MapSchema)schema).ValueSchema, isMap: true, depth, out error);
                case Schema.Type.Logical:
                    return Value(((LogicalSchema)schema).BaseSchema, depth, out error);
                default:
                    error = $"schema type {schema.Tag} cannot be validated";
                    return false;
            }
        }

        private bool Blocks(Schema item, bool isMap, int depth, out string? error)
        {
            var what = isMap ? "map" : "array";
            var index = 0L;
            // Items that take no bytes (null, an empty record, fixed of size 0) need no walk: only their count matters.
            var emptyItems = !isMap && TakesNoBytes(item, 0);
            while (true)
            {
                if (!Long(out var count, out error))
                {
                    error = $"{what} block count: {error}";
                    return false;
                }
                if (count == 0)
                {
                    return true;
                }
                var blockSize = -1L;
                if (count < 0)
                {
                    // A negative count is followed by the block's size in bytes, which readers may skip by: it must be right.
                    if (count == long.MinValue || !Long(out blockSize, out error) || blockSize < 0 || blockSize > Remaining)
                    {
                        error = $"{what} block size: {error ?? "out of range"}";
                        return false;
                    }
                    count = -count;
                }
                _items += count;
                if (_items > MaxItems)
                {
                    error = $"the value holds more than {MaxItems} array and map items";
                    return false;
                }
                var blockStart = _position;
                for (var i = 0L; i < count && !emptyItems; i++, index++)
                {
                    if (isMap && !String("a map key", out error))
                    {
                        return false;
                    }
                    if (!Value(item, depth + 1, out error))
                    {
                        error = $"{what} item {index}: {error}";
                        return false;
                    }
                }
                if (blockSize >= 0 && _position - blockStart != blockSize)
                {
                    error = $"{what} block says it is {blockSize} bytes; its items take {_position - blockStart}";
                    return false;
                }
            }
        }

        private bool String(string what, out string? error)
        {
            if (!Length(what, out var length, out error) || !Skip(length, what, out error))
            {
                return false;
            }
            if (!Utf8.IsValid(_bytes.Slice(_position - length, length)))
            {
                error = $"{what} is not valid UTF-8";
                return false;
            }
            return true;
        }

        private static bool TakesNoBytes(Schema schema, int depth) => depth <= MaxDepth && schema switch
        {
            { Tag: Schema.Type.Null } => true,
            FixedSchema fixedSchema => fixedSchema.Size == 0,
            RecordSchema record => record.Fields.All(f => TakesNoBytes(f.Schema, depth + 1)),
            LogicalSchema logical => TakesNoBytes(logical.BaseSchema, depth + 1),
            _ => false,
        };

        private bool Length(string what, out int length, out string? error)
        {
            length = 0;
            if (!Long(out var value, out error))
            {
                return false;
            }
            if (value < 0 || value > Remaining)
            {
                error = $"{what} claims {value} bytes; {Remaining} are left";
                return false;
            }
            length = (int)value;
            return true;
        }

        private bool Skip(int count, string what, out string? error)
        {
            if (count > Remaining)
            {
                error = $"the value ends inside {what}";
                return false;
            }
            _position += count;
            error = null;
            return true;
        }

        private bool Int(out int value, out string? error)
        {
            value = 0;
            if (!Varint(5, out var raw, out error))
            {
                return false;
            }
            if (raw > uint.MaxValue)
            {
                error = "an int is out of range";
                return false;
            }
            var zigzag = (uint)raw;
            value = (int)(zigzag >> 1) ^ -(int)(zigzag & 1);
            return true;
        }

        private bool Long(out long value, out string? error)
        {
            value = 0;
            if (!Varint(10, out var raw, out error))
            {
                return false;
            }
            value = (long)(raw >> 1) ^ -(long)(raw & 1);
            return true;
        }

        private bool Varint(int maxBytes, out ulong value, out string? error)
        {
            value = 0;
            for (var i = 0; i < maxBytes; i++)
            {
                if (_position >= _bytes.Length)
                {
                    error = "the value ends inside a number";
                    return false;
                }
                var b = _bytes[_position++];
                value |= (ulong)(b & 0x7f) << (7 * i);
                if ((b & 0x80) == 0)
                {
                    error = null;
                    return true;
                }
            }
            error = maxBytes == 5 ? "an int takes more than 5 bytes" : "a long takes more than 10 bytes";
            return false;
        }
    }
}
