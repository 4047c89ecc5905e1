using System.Text;

namespace Broker.Security.Tests.Hostile;

/// <summary>
/// The usual hostile inputs, made when a case is sent (never kept: the suite measures the memory it leaves behind):
/// JSON nested past any parser's depth, cut short, of the wrong kind or with bytes that are not UTF-8, numbers no field
/// holds, bodies past the documented limits, and names no rule allows.
/// </summary>
public static class Payloads
{
    /// <summary>How deep the nested JSON goes: far past System.Text.Json's 64 and any recursive parser's stack.</summary>
    public const int Depth = 10_000;

    /// <summary>Past Kestrel's default request body limit (30 MB), which every endpoint without a smaller one has.</summary>
    public const int PastKestrelBodyLimit = 40 * 1024 * 1024;

    /// <summary><c>[[[…]]]</c>, <see cref="Depth"/> levels, closed.</summary>
    public static byte[] DeepArrays() => Encoding.ASCII.GetBytes(new string('[', Depth) + new string(']', Depth));

    /// <summary><c>{"a":{"a":…{}…}}</c>, <see cref="Depth"/> levels, closed.</summary>
    public static byte[] DeepObjects()
    {
        var text = new StringBuilder(Depth * 7);
        text.Insert(0, "{\"a\":", Depth).Append("{}").Append('}', Depth);
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>A field whose value nests <see cref="Depth"/> levels: <c>{"field":[[[…]]]}</c>.</summary>
    public static string DeepValue(string field) => $"{{\"{field}\":{new string('[', Depth)}{new string(']', Depth)}}}";

    /// <summary>The first half of <paramref name="json"/>.</summary>
    public static byte[] Truncated(string json) => Encoding.UTF8.GetBytes(json[..(json.Length / 2)]);

    /// <summary><c>{"field":"a\xFF\xFEb"}</c>: a JSON string whose bytes are not UTF-8.</summary>
    public static byte[] BadUtf8(string field) =>
        [.. Encoding.ASCII.GetBytes($"{{\"{field}\":\"a"), 0xFF, 0xFE, 0xC3, .. Encoding.ASCII.GetBytes("b\"}")];

    /// <summary>Bytes that are no JSON at all (not UTF-8 either).</summary>
    public static byte[] Garbage() => [0xFF, 0x00, 0xFE, 0x7B, 0x22, 0x80, 0x81];

    /// <summary>A JSON array of <paramref name="count"/> copies of <paramref name="item"/>.</summary>
    public static byte[] Array(string item, int count, string prefix = "", string suffix = "") => Array(_ => item, count, prefix, suffix);

    /// <summary>
    /// A JSON array of <paramref name="count"/> items, made without the shared array pool (interpolation and string.Join
    /// rent from it, and what the pool keeps would count against the services).
    /// </summary>
    public static byte[] Array(Func<int, string> item, int count, string prefix = "", string suffix = "")
    {
        var text = new StringBuilder(prefix.Length + suffix.Length + (8 * count) + 2);
        text.Append(prefix).Append('[');
        for (var i = 0; i < count; i++)
        {
            text.Append(i == 0 ? "" : ",").Append(item(i));
        }
        return Encoding.UTF8.GetBytes(text.Append(']').Append(suffix).ToString());
    }

    /// <summary>
    /// <paramref name="before"/>, <paramref name="length"/> copies of <paramref name="fill"/>, <paramref name="after"/>, as
    /// UTF-8: a large JSON body made in one array of its exact size (no pooled buffer outlives it).
    /// </summary>
    public static byte[] Filled(string before, int length, string after, char fill = 'a')
    {
        var bytes = new byte[before.Length + length + after.Length];
        Encoding.UTF8.GetBytes(before, bytes);
        bytes.AsSpan(before.Length, length).Fill((byte)fill);
        Encoding.UTF8.GetBytes(after, bytes.AsSpan(before.Length + length));
        return bytes;
    }

    /// <summary>A JSON string value of <paramref name="length"/> characters.</summary>
    public static string Text(int length, char c = 'a') => new(c, length);

    /// <summary>Numbers no int32 field holds, or holds only by being lenient: name → JSON text.</summary>
    public static IEnumerable<(string Name, string Json)> BadInts() =>
    [
        ("2^31", "2147483648"),
        ("-1", "-1"),
        ("-2^31", "-2147483648"),
        ("1e400", "1e400"),
        ("\"12\" (a string)", "\"12\""),
        ("1.5", "1.5"),
        ("true", "true"),
        ("[] (an array)", "[]"),
        ("{} (an object)", "{}"),
    ];

    /// <summary>
    /// Names no topic or group rule allows (Kafka's: ASCII letters, digits, '.', '_', '-', at most 249), as they go into a
    /// URL path segment: name → the escaped segment, and whether Kestrel refuses it before any of our code runs (a NUL
    /// in the path: a bare 400). '.' and '..' are not here: escaped or not they are dot segments, which Kestrel removes
    /// from the path as RFC 3986 says, so they never reach a route as a name (they are in <see cref="BadNamesInJson"/>).
    /// The 100 KB name is a case of its own: past Kestrel's request line (8 KB), it never reaches our code either.
    /// </summary>
    public static IEnumerable<(string Name, string Segment, bool ServerLevel)> BadNames() =>
    [
        ("1,000 characters", Text(1_000), false),
        ("'/' escaped (%2F)", "a%2Fb", false),
        ("braces (a Redis hash tag)", "%7Bt%7D", false),
        ("':' (a Redis key separator)", "a%3Ab", false),
        ("a space", "a%20b", false),
        ("a control character", "a%01b", false),
        ("a NUL", "a%00b", true),
        ("'*'", "%2A", false),
        ("non-ASCII (é)", "%C3%A9t%C3%A9", false),
        ("bytes that are not UTF-8", "a%FF%FEb", false),
        ("a double-escaped '/' (%252F)", "a%252Fb", false),
    ];

    /// <summary>Names as JSON strings in a body (not a path): name → the JSON string literal.</summary>
    public static IEnumerable<(string Name, string Json)> BadNamesInJson() =>
    [
        ("empty", "\"\""),
        ("1,000 characters", $"\"{Text(1_000)}\""),
        ("'/'", "\"a/b\""),
        ("'..'", "\"..\""),
        ("braces", "\"{t}\""),
        ("':'", "\"a:b\""),
        ("a space", "\"a b\""),
        ("a control character", "\"a\\u0001b\""),
        ("a number", "42"),
    ];
}
