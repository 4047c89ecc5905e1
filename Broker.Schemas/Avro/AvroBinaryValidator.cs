using System.Runtime.CompilerServices;
using System.Text.Unicode;
using Avro;

namespace Broker.Schemas.Avro;

/// <summary>
/// Checks that bytes are exactly one value of a schema in Avro's binary encoding: every varint well formed
/// and in range, every length inside the bytes, every string UTF-8, every enum symbol and union branch in
/// range, nothing left over. Walks the bytes without building the value, so it costs about a read.
/// </summary>
/// <remarks>
/// The work is bounded by the bytes, not by the schema: parts of a value that take no bytes (null, fixed of
/// size 0, records of only those) are known per schema in advance and never walked, so every step of the walk
/// reads at least one byte at its depth, and a value of n bytes costs at most about n × (<see cref="MaxDepth"/> + 1)
/// steps (<see cref="StepBudget"/>), whatever named types the schema shares (a schema whose records each name the next one twice costs
/// 2^depth steps for a walk that expands them). Block counts of arrays and maps are checked against the bytes
/// left before any item is read. The steps are counted, and a walk past that bound stops (a second line).
/// </remarks>
public static class AvroBinaryValidator
{
    /// <summary>More items than this in one value (arrays and maps together) is refused.</summary>
    public const long MaxItems = 1_000_000;

    /// <summary>Values nested deeper than this (a recursive schema) are refused: the walk recurses, and a stack overflow would end the process.</summary>
    public const int MaxDepth = 256;

    // What the walk needs to know of a schema beyond the model, computed once per schema and kept as long as it lives.
    private static readonly ConditionalWeakTable<Schema, Plan> s_plans = [];

    /// <summary>True when <paramref name="body"/> is one value of <paramref name="schema"/>; else false and what is wrong, where.</summary>
    public static bool TryValidate(Schema schema, ReadOnlySpan<byte> body, out string? error) => TryValidate(schema, body, out error, out _);

    /// <summary>
    /// As <see cref="TryValidate(Schema, ReadOnlySpan{byte}, out string?)"/>, and how many steps the walk took
    /// (schema nodes visited), which the tests hold to the bound above.
    /// </summary>
    internal static bool TryValidate(Schema schema, ReadOnlySpan<byte> body, out string? error, out long steps)
    {
        var reader = new Reader(body, s_plans.GetValue(schema, Plan.Of));
        var valid = reader.Value(schema, 0, out error);
        steps = reader.Steps;
        if (!valid)
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

    /// <summary>The most steps a value of <paramref name="bytes"/> bytes may take: each step reads a byte at its depth.</summary>
    internal static long StepBudget(int bytes) => ((long)bytes + 1) * (MaxDepth + 2);

    /// <summary>The records of a schema whose values take no bytes (all their fields are null, fixed of size 0 or such records).</summary>
    private sealed class Plan
    {
        private readonly HashSet<Schema> _emptyRecords;

        private Plan(HashSet<Schema> emptyRecords) => _emptyRecords = emptyRecords;

        public static Plan Of(Schema root)
        {
            // One pass over the schema graph, each named type once: linear in the schema, whatever it shares.
            var visited = new HashSet<Schema>(ReferenceEqualityComparer.Instance);
            var pending = new Stack<Schema>();
            pending.Push(root);
            while (pending.TryPop(out var schema))
            {
                if (visited.Add(schema))
                {
                    foreach (var child in AvroSchemaWalk.Children(schema))
                    {
                        pending.Push(child);
                    }
                }
            }
            var known = new Dictionary<RecordSchema, bool>(ReferenceEqualityComparer.Instance);
            foreach (var record in visited.OfType<RecordSchema>())
            {
                Decide(record, known);
            }
            return new Plan(new HashSet<Schema>(known.Where(e => e.Value).Select(e => e.Key), ReferenceEqualityComparer.Instance));
        }

        /// <summary>
        /// Whether values of <paramref name="start"/> (and of the records it waits for) take no bytes: a record takes
        /// none when none of its fields does. Depth first with a stack of its own (a chain of records may be long); a
        /// record met again while it is being decided takes bytes (one that holds itself by all its fields has no
        /// finite value anyway).
        /// </summary>
        private static void Decide(RecordSchema start, Dictionary<RecordSchema, bool> known)
        {
            if (known.ContainsKey(start))
            {
                return;
            }
            var deciding = new HashSet<RecordSchema>(ReferenceEqualityComparer.Instance) { start };
            var stack = new Stack<(RecordSchema Record, int Field)>();
            stack.Push((start, 0));
            while (stack.TryPop(out var frame))
            {
                var (record, i) = frame;
                var empty = true;
                var waiting = false;
                for (; i < record.Fields.Count; i++)
                {
                    var type = record.Fields[i].Schema is LogicalSchema logical ? logical.BaseSchema : record.Fields[i].Schema;
                    if (type is RecordSchema inner && !known.ContainsKey(inner) && deciding.Add(inner))
                    {
                        stack.Push((record, i));
                        stack.Push((inner, 0));
                        waiting = true;
                        break;
                    }
                    var none = type switch
                    {
                        RecordSchema decided => known.GetValueOrDefault(decided), // still deciding: takes bytes
                        FixedSchema fixedSchema => fixedSchema.Size == 0,
                        _ => type.Tag == Schema.Type.Null,
                    };
                    if (!none)
                    {
                        empty = false;
                        break;
                    }
                }
                if (!waiting)
                {
                    known[record] = empty;
                    deciding.Remove(record);
                }
            }
        }

        public bool TakesNoBytes(Schema schema) => schema.Tag switch
        {
            Schema.Type.Null => true,
            Schema.Type.Record or Schema.Type.Error => _emptyRecords.Count > 0 && _emptyRecords.Contains(schema),
            Schema.Type.Fixed => ((FixedSchema)schema).Size == 0,
            Schema.Type.Logical => TakesNoBytes(((LogicalSchema)schema).BaseSchema),
            _ => false,
        };
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes, Plan plan)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private readonly long _budget = StepBudget(bytes.Length);
        private int _position;
        private long _items;

        public readonly int Remaining => _bytes.Length - _position;

        /// <summary>Schema nodes visited so far.</summary>
        public long Steps { get; private set; }

        public bool Value(Schema schema, int depth, out string? error)
        {
            error = null;
            if (depth > MaxDepth)
            {
                error = $"the value nests deeper than {MaxDepth} levels";
                return false;
            }
            if (++Steps > _budget)
            {
                // Cannot happen while every step reads a byte; if a schema ever made it, stop rather than spin.
                error = $"checking the value took more than {_budget} steps for {_bytes.Length} bytes";
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
                        // A field that takes no bytes is a value already, whatever its type holds: not walked.
                        if (plan.TakesNoBytes(field.Schema))
                        {
                            continue;
                        }
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
            var emptyItems = plan.TakesNoBytes(item);
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
                // Every item that is walked reads a byte at least (a map's key has its length): a count the bytes left
                // cannot hold is refused before any item is read.
                if ((isMap || !emptyItems) && count > Remaining)
                {
                    error = $"{what} block claims {count} items; {Remaining} bytes are left";
                    return false;
                }
                if (count > MaxItems - _items)
                {
                    error = $"the value holds more than {MaxItems} array and map items";
                    return false;
                }
                _items += count;
                var blockStart = _position;
                for (var i = 0L; i < count && (isMap || !emptyItems); i++, index++)
                {
                    if (isMap && !String("a map key", out error))
                    {
                        return false;
                    }
                    if (emptyItems)
                    {
                        continue;
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
