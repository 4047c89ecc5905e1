using System.Globalization;
using System.Text;

namespace Broker.Testing;

/// <summary>
/// Avro "schema bombs": small schemas whose named types each use the next one twice, so that anything that
/// expands named types instead of referencing them does 2^depth work. Record R0 has fields <c>a</c> and <c>b</c>
/// of type R1 (or <c>["null", R1]</c>), R1 has <c>a</c> and <c>b</c> of type R2, and so on to R<i>depth</i>, whose
/// one field <c>x</c> is the leaf type (<c>int</c> as reported; <c>null</c> makes every record's value zero bytes,
/// the case that made one 6-byte record cost 2^depth steps to validate).
/// </summary>
public static class AvroBombs
{
    /// <summary>
    /// The records as the branches of a root union, each defined before the one that uses it: R<i>depth</i> first
    /// (branch 0), R0 last (branch <paramref name="depth"/>). About 3.5 KB at depth 30; any depth fits in JSON.
    /// </summary>
    public static string UnionRoot(int depth, bool nullable = false, string leaf = "int")
    {
        var text = new StringBuilder("[");
        for (var level = depth; level >= 0; level--)
        {
            text.Append(level == depth ? "" : ",").Append(Record(level, depth, nullable, leaf, inlineNext: null));
        }
        return text.Append(']').ToString();
    }

    /// <summary>
    /// R0 at the root, each next record defined inline in field <c>a</c> and named again in <c>b</c>. JSON nests
    /// about three levels per record, so past depth ~18 the text is deeper than JSON parsers take (64).
    /// </summary>
    public static string RecordRoot(int depth, bool nullable = false, string leaf = "int")
    {
        var inner = Record(depth, depth, nullable, leaf, inlineNext: null);
        for (var level = depth - 1; level >= 0; level--)
        {
            inner = Record(level, depth, nullable, leaf, inlineNext: inner);
        }
        return inner;
    }

    /// <summary>
    /// The union-root bomb with R<i>depth</i> given one more field, <paramref name="extraField"/> (a JSON field
    /// object): a second version to check compatibility against.
    /// </summary>
    public static string UnionRootWith(int depth, string extraField, bool nullable = false, string leaf = "int") =>
        UnionRoot(depth, nullable, leaf).Replace(
            $$"""{"name":"x","type":"{{leaf}}"}""", $$"""{"name":"x","type":"{{leaf}}"},{{extraField}}""", StringComparison.Ordinal);

    private static string Record(int level, int depth, bool nullable, string leaf, string? inlineNext)
    {
        var name = "R" + level.ToString(CultureInfo.InvariantCulture);
        if (level == depth)
        {
            return $$"""{"type":"record","name":"{{name}}","fields":[{"name":"x","type":"{{leaf}}"}]}""";
        }
        var next = "\"R" + (level + 1).ToString(CultureInfo.InvariantCulture) + "\"";
        var first = inlineNext ?? next;
        return nullable
            ? $$"""{"type":"record","name":"{{name}}","fields":[{"name":"a","type":["null",{{first}}]},{"name":"b","type":["null",{{next}}]}]}"""
            : $$"""{"type":"record","name":"{{name}}","fields":[{"name":"a","type":{{first}}},{"name":"b","type":{{next}}}]}""";
    }
}
