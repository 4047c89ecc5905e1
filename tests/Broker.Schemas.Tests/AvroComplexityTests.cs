using System.Diagnostics;
using System.Globalization;
using System.Text;
using Broker.Schemas.Avro;
using Broker.Testing;

namespace Broker.Schemas.Tests;

/// <summary>
/// Every check of a schema is linear in its types, whatever they share: the schema bombs (named types each used
/// twice by the next, 2^depth when expanded) parse, validate values and check compatibility in counted, small work.
/// The time bounds are generous (this is complexity, not a benchmark); the counted work is the real assertion.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AvroComplexityTests
{
    private const int Depth = 30;
    // Generous for a shared, loaded machine (the expanding walks took minutes at this depth); the counts are the real bound.
    private static readonly TimeSpan s_generous = TimeSpan.FromSeconds(5);

    public static TheoryData<bool, string> Variants => new()
    {
        { false, "int" },
        { true, "int" },
        { false, "null" },
        { true, "null" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void The_union_root_bomb_parses_normalizes_and_validates_a_value_in_work_bounded_by_its_bytes(bool nullable, string leaf)
    {
        var clock = Stopwatch.StartNew();
        var text = AvroBombs.UnionRoot(Depth, nullable, leaf);
        Assert.InRange(text.Length, 2_500, 5_000);
        var schema = AvroCanonicalForm.Parse(text);
        var normal = AvroNormalForm.Normalize(schema);
        Assert.Equal(schema.Schema.Tag, normal.Schema.Tag);

        // The deepest value the variant can have in a few bytes: R0 where its fields may be null or take no bytes,
        // else R(depth-3), which holds 2^3 ints.
        var level = nullable || leaf == "null" ? 0 : Depth - 3;
        var value = Framed(level, Value(level, nullable, leaf));
        Assert.True(AvroBinaryValidator.TryValidate(schema.Schema, value, out var error, out var steps), error);
        Assert.InRange(steps, 1, AvroBinaryValidator.StepBudget(value.Length));
        Assert.True(steps <= 5 * (Depth + 2), $"{steps} steps for {value.Length} bytes");
        if (leaf == "null" && !nullable)
        {
            // The report's case: R0's value takes no bytes, so the whole record is the union's index: 6 bytes with
            // the wire format's header, and 2^31 records deep when expanded. Two steps: the union and R0.
            Assert.Single(value);
            Assert.Equal(2, steps);
        }

        // A value cut short fails as fast as a good one passes.
        Assert.False(AvroBinaryValidator.TryValidate(schema.Schema, [.. Framed(0, []), 2, 2, 2], out _, out var failedSteps));
        Assert.InRange(failedSteps, 1, AvroBinaryValidator.StepBudget(4));
        Assert.True(clock.Elapsed < s_generous, $"took {clock.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Compatibility_with_a_second_version_of_the_bomb_compares_each_pair_of_types_once(bool nullable, string leaf)
    {
        var clock = Stopwatch.StartNew();
        var v1 = AvroCanonicalForm.Parse(AvroBombs.UnionRoot(Depth, nullable, leaf));
        var v2 = AvroCanonicalForm.Parse(AvroBombs.UnionRootWith(Depth, """{"name":"y","type":"long","default":0}""", nullable, leaf));
        Assert.Empty(AvroCompatibility.Check(v2, v1, out var backward));
        Assert.Empty(AvroCompatibility.Check(v1, v2, out var forward));
        // A pair per record and per field type, not per path: a few hundred, against 2^31 paths.
        Assert.InRange(backward, 1, 20 * (Depth + 1));
        Assert.InRange(forward, 1, 20 * (Depth + 1));

        // Incompatible at the leaf that every path reaches: still each pair once, each reason once.
        var v3 = AvroCanonicalForm.Parse(AvroBombs.UnionRoot(Depth, nullable, leaf == "int" ? "string" : "int"));
        var problems = AvroCompatibility.Check(v3, v1, out var pairs);
        Assert.NotEmpty(problems);
        Assert.True(problems.Count <= Depth + 1, $"{problems.Count} incompatibilities");
        Assert.Equal(problems.Count, problems.Distinct().Count());
        // No branch reads a writer branch, so every reader branch is tried for it, each trial down its fields:
        // quadratic in the union's 31 branches (about 10,000 pairs), never exponential in the depth.
        Assert.InRange(pairs, 1, 16 * (Depth + 1) * (Depth + 1));
        Assert.True(clock.Elapsed < s_generous, $"took {clock.Elapsed}");
    }

    [Fact]
    public void The_record_root_bomb_reports_its_leaf_once_and_past_json_nesting_is_refused()
    {
        var clock = Stopwatch.StartNew();
        // 18 levels is as deep as the record-root shape goes within JSON's 64 levels.
        var v1 = AvroCanonicalForm.Parse(AvroBombs.RecordRoot(18));
        var v3 = AvroCanonicalForm.Parse(AvroBombs.RecordRoot(18, leaf: "string"));
        var problem = Assert.Single(AvroCompatibility.Check(v3, v1, out var pairs));
        Assert.Equal(IncompatibilityType.TypeMismatch, problem.Type);
        Assert.InRange(pairs, 1, 3 * 19);
        var full = Value(0, nullable: false, "int", 18);
        Assert.False(AvroBinaryValidator.TryValidate(v1.Schema, full.AsSpan(0, full.Length - 1), out _, out var steps));
        Assert.InRange(steps, 1, AvroBinaryValidator.StepBudget(1 << 18));

        var error = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Parse(AvroBombs.RecordRoot(Depth)));
        Assert.Contains("MaxDepth of 64", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < s_generous, $"took {clock.Elapsed}");
    }

    [Fact]
    public void Nesting_past_the_limit_is_refused_naming_it_and_at_the_limit_parses()
    {
        // A union, R0..R(depth) and the leaf: depth + 3 levels.
        var atLimit = AvroCanonicalForm.Parse(AvroBombs.UnionRoot(AvroSchemaLimits.Default.MaxNesting - 3));
        Assert.NotNull(atLimit);
        var error = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Parse(AvroBombs.UnionRoot(AvroSchemaLimits.Default.MaxNesting - 2)));
        Assert.Contains("MaxSchemaNesting", error.Message, StringComparison.Ordinal);
        Assert.Contains("64", error.Message, StringComparison.Ordinal);

        // Without limits (a schema already admitted), any depth parses; the walks keep stacks of their own.
        var deep = AvroCanonicalForm.Parse(AvroBombs.UnionRoot(1_000, nullable: true), AvroSchemaLimits.None);
        Assert.True(AvroBinaryValidator.TryValidate(deep.Schema, [0, 2], out var leafError), leafError); // branch 0: R1000 {x: 1}
        Assert.Empty(AvroCompatibility.Check(deep, deep));
    }

    [Fact]
    public void More_types_than_the_limit_are_refused_naming_it()
    {
        // A union of n one-int records: 1 + 2n types.
        var limits = AvroSchemaLimits.Default with { MaxTypes = 101 };
        Assert.NotNull(AvroCanonicalForm.Parse(ManyRecords(50), limits));
        var error = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Parse(ManyRecords(51), limits));
        Assert.Contains("MaxSchemaTypes", error.Message, StringComparison.Ordinal);
        Assert.Contains("101", error.Message, StringComparison.Ordinal);

        var defaults = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Parse(ManyRecords(5_000)));
        Assert.Contains("10000", defaults.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_checked_against_unions_of_look_alike_records_is_decided_once_per_type_and_part()
    {
        // A(i) and B(i) both hold x: [A(i+1), B(i+1)]; a default 30 objects deep whose leaf fits neither leaf record
        // makes every union try both branches on the same part: 2^30 without remembering what was decided.
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Parse(LookAlikes(Depth, "\"s\"")));
        Assert.Contains("default of field 'f'", error.Message, StringComparison.Ordinal);
        Assert.NotNull(AvroCanonicalForm.Parse(LookAlikes(Depth, "1")));
        Assert.True(clock.Elapsed < s_generous, $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_linked_list_still_registers_validates_deep_values_up_to_the_limit_and_checks_compatibility()
    {
        const string node = """{"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"]}]}""";
        var list = AvroCanonicalForm.Parse(node);

        // Each node is two levels (the record, the union of its next): 128 nodes reach depth 256.
        Assert.True(AvroBinaryValidator.TryValidate(list.Schema, List(128), out var error, out var steps), error);
        Assert.InRange(steps, 128, AvroBinaryValidator.StepBudget(2 * 128));
        Assert.False(AvroBinaryValidator.TryValidate(list.Schema, List(129), out var deeper));
        Assert.Contains("deeper than 256", deeper, StringComparison.Ordinal);

        var labelled = AvroCanonicalForm.Parse(node.Replace("""{"name":"value","type":"int"}""",
            """{"name":"value","type":"int"},{"name":"label","type":"string","default":""}""", StringComparison.Ordinal));
        Assert.Empty(AvroCompatibility.Check(labelled, list));
        Assert.Empty(AvroCompatibility.Check(list, labelled));
        var text = AvroCanonicalForm.Parse(node.Replace("\"int\"", "\"string\"", StringComparison.Ordinal));
        Assert.Equal(IncompatibilityType.TypeMismatch, Assert.Single(AvroCompatibility.Check(text, list)).Type);
    }

    [Fact]
    public void Block_counts_and_lengths_are_checked_against_the_bytes_left_before_anything_is_read()
    {
        var longs = AvroCanonicalForm.Parse("""{"type":"array","items":"long"}""").Schema;
        AssertRefused(longs, [.. Long(long.MaxValue), 0], "block claims");
        AssertRefused(longs, [.. Long(1L << 40), 2, 0], "block claims");
        AssertRefused(longs, [.. Long(long.MinValue), 0], "block size");
        AssertRefused(longs, [.. Long(-1), .. Long(long.MaxValue), 2, 0], "block size");

        // Null items take no bytes, so only MaxItems bounds them; a second block cannot overflow the count past it.
        var nulls = AvroCanonicalForm.Parse("""{"type":"array","items":"null"}""").Schema;
        Assert.True(AvroBinaryValidator.TryValidate(nulls, [.. Long(AvroBinaryValidator.MaxItems), 0], out _));
        AssertRefused(nulls, [.. Long(AvroBinaryValidator.MaxItems), .. Long(long.MaxValue), 0], "more than 1000000");
        AssertRefused(nulls, [.. Long(-long.MaxValue), 0, 0], "more than 1000000");

        // A map's keys take bytes even when its values take none.
        var nullMap = AvroCanonicalForm.Parse("""{"type":"map","values":"null"}""").Schema;
        AssertRefused(nullMap, [.. Long(AvroBinaryValidator.MaxItems), 0], "block claims");
        Assert.True(AvroBinaryValidator.TryValidate(nullMap, [.. Long(2), 2, (byte)'a', 2, (byte)'b', 0], out _));

        var bytes = AvroCanonicalForm.Parse("\"bytes\"").Schema;
        AssertRefused(bytes, [.. Long(long.MaxValue)], "claims");
        AssertRefused(bytes, [.. Long(-2)], "claims");
    }

    private static void AssertRefused(global::Avro.Schema schema, byte[] body, string mentioned)
    {
        Assert.False(AvroBinaryValidator.TryValidate(schema, body, out var error, out var steps));
        Assert.Contains(mentioned, error, StringComparison.Ordinal);
        Assert.InRange(steps, 1, 3);
    }

    /// <summary>The union index of R<paramref name="level"/> (branch depth - level) before its value.</summary>
    private static byte[] Framed(int level, byte[] value) => [.. Long(Depth - level), .. value];

    /// <summary>
    /// A value of R<paramref name="level"/>: down field <c>a</c> to the leaf with <c>b</c> null when the fields are
    /// nullable, else both fields in full (2^(depth - level) leaves).
    /// </summary>
    private static byte[] Value(int level, bool nullable, string leaf, int depth = Depth)
    {
        if (level == depth)
        {
            return leaf == "int" ? [2] : [];
        }
        var next = Value(level + 1, nullable, leaf, depth);
        return nullable ? [2, .. next, 0] : [.. next, .. next];
    }

    /// <summary>A list of <paramref name="nodes"/> Nodes, each value 1.</summary>
    private static byte[] List(int nodes) => [.. Enumerable.Range(0, nodes).SelectMany(i => i == nodes - 1 ? new byte[] { 2, 0 } : [2, 2])];

    private static string ManyRecords(int count) =>
        "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $$"""{"type":"record","name":"M{{i}}","fields":[{"name":"n","type":"int"}]}""")) + "]";

    private static string LookAlikes(int depth, string leafValue)
    {
        var text = new StringBuilder("[");
        for (var level = depth; level >= 0; level--)
        {
            foreach (var name in new[] { "A", "B" })
            {
                var field = level == depth
                    ? """{"name":"y","type":"int"}"""
                    : $$"""{"name":"x","type":["A{{level + 1}}","B{{level + 1}}"]}""";
                text.Append(CultureInfo.InvariantCulture, $$"""{"type":"record","name":"{{name}}{{level}}","fields":[{{field}}]},""");
            }
        }
        var value = string.Concat(Enumerable.Repeat("{\"x\":", depth)) + "{\"y\":" + leafValue + "}" + new string('}', depth);
        return text.Append(CultureInfo.InvariantCulture, $$"""{"type":"record","name":"Holder","fields":[{"name":"f","type":"A0","default":{{value}}}]}]""").ToString();
    }

    private static byte[] Long(long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        var bytes = new List<byte>();
        while (zigzag >= 0x80)
        {
            bytes.Add((byte)(zigzag | 0x80));
            zigzag >>= 7;
        }
        bytes.Add((byte)zigzag);
        return [.. bytes];
    }
}
