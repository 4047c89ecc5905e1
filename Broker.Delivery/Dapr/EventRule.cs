using System.Globalization;
using System.Text.Json;

namespace Broker.Delivery.Dapr;

/// <summary>
/// A Dapr routing rule's <c>match</c>: the part of CEL that Dapr's docs use over a CloudEvent. Paths from
/// <c>event</c> (<c>event.type</c>, <c>event.data.kind</c>, <c>event["key"]</c>), string, number, bool and
/// null literals, <c>== != &lt; &lt;= &gt; &gt;=</c>, <c>&amp;&amp; || !</c>, parentheses, <c>has(path)</c>
/// and the string methods <c>startsWith</c>, <c>endsWith</c> and <c>contains</c>. As in CEL, a field that is
/// not there makes the comparison fail (no match) rather than compare as null; <c>has</c> asks for it.
/// A rule comes from an app (its <c>/dapr/subscribe</c>) or the REST API, so its text and its nesting are
/// bounded (<see cref="MaxLength"/>, <see cref="MaxDepth"/>): the parser and the evaluation recurse, and a
/// stack overflow would end the process. Chains of <c>&amp;&amp;</c> and <c>||</c> are flat, so a long one
/// costs no depth. A rule is compiled once, when its subscription starts, and evaluated per event.
/// </summary>
public sealed class EventRule
{
    /// <summary>The longest rule text, in characters; a longer one is refused.</summary>
    public const int MaxLength = 4096;

    /// <summary>
    /// How deeply a rule may nest: each pair of parentheses, each <c>!</c> and each method call
    /// (<c>.startsWith(…)</c>) is one level; a deeper one is refused.
    /// </summary>
    public const int MaxDepth = 32;

    /// <summary>How much of a refused rule's text its error message shows.</summary>
    private const int QuotedLength = 80;

    private readonly Node _root;

    private EventRule(string text, Node root, int depth)
    {
        Text = text;
        _root = root;
        Depth = depth;
    }

    public string Text { get; }

    /// <summary>The deepest nesting the rule uses (at most <see cref="MaxDepth"/>).</summary>
    internal int Depth { get; }

    /// <summary>Compiles <paramref name="text"/>; FormatException saying where it is wrong, or which limit it breaks.</summary>
    public static EventRule Parse(string text)
    {
        if (text.Length > MaxLength)
        {
            throw new FormatException(
                $"Rule `{Quote(text)}` is {text.Length} characters long; the limit (EventRule.MaxLength) is {MaxLength}.");
        }
        var parser = new Parser(text);
        var root = parser.ParseExpression();
        parser.ExpectEnd();
        return new EventRule(text, root, parser.DeepestLevel);
    }

    private static string Quote(string text) => text.Length <= QuotedLength ? text : string.Concat(text.AsSpan(0, QuotedLength), "…");

    /// <summary>Whether the CloudEvent (a JSON object) matches.</summary>
    public bool Matches(JsonElement cloudEvent) => _root.Evaluate(cloudEvent) is { Kind: ValueKind.Bool, Bool: true };

    private enum ValueKind { Absent, Null, Bool, Number, String, Other }

    private readonly record struct Value(ValueKind Kind, bool Bool = false, double Number = 0, string? String = null)
    {
        public static Value Absent => new(ValueKind.Absent);

        public static Value Of(bool value) => new(ValueKind.Bool, Bool: value);

        public static Value From(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.String => new(ValueKind.String, String: element.GetString()),
            JsonValueKind.Number => new(ValueKind.Number, Number: element.GetDouble()),
            JsonValueKind.True => Of(true),
            JsonValueKind.False => Of(false),
            JsonValueKind.Null => new(ValueKind.Null),
            _ => new(ValueKind.Other),
        };
    }

    private abstract class Node
    {
        public abstract Value Evaluate(JsonElement cloudEvent);
    }

    private sealed class Literal(Value value) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent) => value;
    }

    private sealed class Path(IReadOnlyList<string> names) : Node
    {
        public bool TryResolve(JsonElement cloudEvent, out JsonElement found)
        {
            found = cloudEvent;
            foreach (var name in names)
            {
                if (found.ValueKind != JsonValueKind.Object || !found.TryGetProperty(name, out found))
                {
                    return false;
                }
            }
            return true;
        }

        public override Value Evaluate(JsonElement cloudEvent) => TryResolve(cloudEvent, out var found) ? Value.From(found) : Value.Absent;
    }

    private sealed class Has(Path path) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent) => Value.Of(path.TryResolve(cloudEvent, out _));
    }

    private sealed class Not(Node operand) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent) =>
            operand.Evaluate(cloudEvent) is { Kind: ValueKind.Bool } value ? Value.Of(!value.Bool) : Value.Absent;
    }

    /// <summary>
    /// <c>a &amp;&amp; b &amp;&amp; c</c> (or <c>||</c>) as one node over its operands, evaluated left to right in a
    /// loop: a chain of any length costs no stack.
    /// </summary>
    private sealed class Logical(IReadOnlyList<Node> operands, bool and) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent)
        {
            var result = operands[0].Evaluate(cloudEvent);
            for (var i = 1; i < operands.Count; i++)
            {
                if (result.Kind == ValueKind.Bool && result.Bool != and)
                {
                    return result; // false && …, true || …
                }
                var next = operands[i].Evaluate(cloudEvent);
                result = result.Kind != ValueKind.Bool
                    // CEL's commutative error handling: an error on one side is absorbed when the other decides.
                    ? next.Kind == ValueKind.Bool && next.Bool != and ? next : Value.Absent
                    : next.Kind == ValueKind.Bool ? next : Value.Absent;
            }
            return result;
        }
    }

    private sealed class Compare(Node left, Node right, string op) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent)
        {
            var l = left.Evaluate(cloudEvent);
            var r = right.Evaluate(cloudEvent);
            if (l.Kind is ValueKind.Absent or ValueKind.Other || r.Kind is ValueKind.Absent or ValueKind.Other)
            {
                return Value.Absent;
            }
            if (op is "==" or "!=")
            {
                var equal = l.Kind == r.Kind && l.Kind switch
                {
                    ValueKind.Null => true,
                    ValueKind.Bool => l.Bool == r.Bool,
                    ValueKind.Number => l.Number == r.Number,
                    _ => string.Equals(l.String, r.String, StringComparison.Ordinal),
                };
                return Value.Of(op == "==" ? equal : !equal);
            }
            int order;
            if (l.Kind == ValueKind.Number && r.Kind == ValueKind.Number)
            {
                order = l.Number.CompareTo(r.Number);
            }
            else if (l.Kind == ValueKind.String && r.Kind == ValueKind.String)
            {
                order = string.CompareOrdinal(l.String, r.String);
            }
            else
            {
                return Value.Absent;
            }
            return Value.Of(op switch
            {
                "<" => order < 0,
                "<=" => order <= 0,
                ">" => order > 0,
                _ => order >= 0,
            });
        }
    }

    private sealed class StringMethod(Node target, string method, Node argument) : Node
    {
        public override Value Evaluate(JsonElement cloudEvent)
        {
            if (target.Evaluate(cloudEvent) is not { Kind: ValueKind.String, String: { } text }
                || argument.Evaluate(cloudEvent) is not { Kind: ValueKind.String, String: { } part })
            {
                return Value.Absent;
            }
            return Value.Of(method switch
            {
                "startsWith" => text.StartsWith(part, StringComparison.Ordinal),
                "endsWith" => text.EndsWith(part, StringComparison.Ordinal),
                _ => text.Contains(part, StringComparison.Ordinal),
            });
        }
    }

    /// <summary>
    /// A recursive-descent parser over the text: or → and → unary → comparison → primary. It recurses only into
    /// parentheses, <c>!</c> and method calls, each one level of <see cref="MaxDepth"/>.
    /// </summary>
    private sealed class Parser(string text)
    {
        private static readonly string[] s_comparisons = ["==", "!=", "<=", ">=", "<", ">"];
        private int _at;
        private int _depth;

        /// <summary>The deepest level the rule reached.</summary>
        public int DeepestLevel { get; private set; }

        public Node ParseExpression()
        {
            var first = ParseAnd();
            if (!Take("||"))
            {
                return first;
            }
            List<Node> operands = [first];
            do
            {
                operands.Add(ParseAnd());
            }
            while (Take("||"));
            return new Logical(operands, and: false);
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_at < text.Length)
            {
                throw Error($"unexpected '{text[_at]}'");
            }
        }

        private Node ParseAnd()
        {
            var first = ParseUnary();
            if (!Take("&&"))
            {
                return first;
            }
            List<Node> operands = [first];
            do
            {
                operands.Add(ParseUnary());
            }
            while (Take("&&"));
            return new Logical(operands, and: true);
        }

        /// <summary>One level deeper (a parenthesis, a '!', a method call); FormatException past <see cref="MaxDepth"/>.</summary>
        private void Enter()
        {
            if (++_depth > MaxDepth)
            {
                throw Error($"the rule nests deeper than {MaxDepth} levels (parentheses, '!' and method calls; the limit is EventRule.MaxDepth)");
            }
            DeepestLevel = Math.Max(DeepestLevel, _depth);
        }

        private void Leave() => _depth--;

        private Node ParseUnary()
        {
            SkipSpace();
            if (_at < text.Length && text[_at] == '!' && !(_at + 1 < text.Length && text[_at + 1] == '='))
            {
                _at++;
                Enter();
                var operand = ParseUnary();
                Leave();
                return new Not(operand);
            }
            var left = ParsePostfix();
            foreach (var op in s_comparisons)
            {
                if (Take(op))
                {
                    return new Compare(left, ParsePostfix(), op);
                }
            }
            return left;
        }

        /// <summary>A primary, then any <c>.method(argument)</c> calls on it.</summary>
        private Node ParsePostfix()
        {
            var node = ParsePrimary();
            var calls = 0;
            while (true)
            {
                SkipSpace();
                if (_at >= text.Length || text[_at] != '.')
                {
                    _depth -= calls;
                    return node;
                }
                _at++;
                var method = Identifier();
                if (method is not ("startsWith" or "endsWith" or "contains"))
                {
                    throw Error($"'{method}' is not a method this rule language knows (startsWith, endsWith, contains)");
                }
                // A call nests its target (a chain of calls is as deep as it is long) and its argument.
                Enter();
                calls++;
                Expect('(');
                var argument = ParseExpression();
                Expect(')');
                node = new StringMethod(node, method, argument);
            }
        }

        private Node ParsePrimary()
        {
            SkipSpace();
            if (_at >= text.Length)
            {
                throw Error("an operand is missing");
            }
            var c = text[_at];
            if (c == '(')
            {
                _at++;
                Enter();
                var inner = ParseExpression();
                Expect(')');
                Leave();
                return inner;
            }
            if (c is '"' or '\'')
            {
                return new Literal(new Value(ValueKind.String, String: QuotedString()));
            }
            if (char.IsAsciiDigit(c) || (c == '-' && _at + 1 < text.Length && char.IsAsciiDigit(text[_at + 1])))
            {
                var start = _at++;
                while (_at < text.Length && (char.IsAsciiDigit(text[_at]) || text[_at] is '.' or 'e' or 'E' or 'u'))
                {
                    _at++;
                }
                var number = text[start.._at].TrimEnd('u');
                if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    throw Error($"'{number}' is not a number");
                }
                return new Literal(new Value(ValueKind.Number, Number: value));
            }
            var name = Identifier();
            switch (name)
            {
                case "true":
                    return new Literal(Value.Of(true));
                case "false":
                    return new Literal(Value.Of(false));
                case "null":
                    return new Literal(new Value(ValueKind.Null));
                case "has":
                    Expect('(');
                    SkipSpace();
                    var path = ParsePath(Identifier());
                    Expect(')');
                    return new Has(path);
                default:
                    return ParsePath(name);
            }
        }

        private Path ParsePath(string root)
        {
            if (root != "event")
            {
                throw Error($"'{root}' is unknown: a rule looks at the CloudEvent through `event`");
            }
            var names = new List<string>();
            while (true)
            {
                SkipSpace();
                if (_at < text.Length && text[_at] == '[')
                {
                    _at++;
                    SkipSpace();
                    names.Add(QuotedString());
                    Expect(']');
                    continue;
                }
                // A '.' followed by a method call belongs to ParsePostfix.
                if (_at < text.Length && text[_at] == '.' && !IsMethodAhead())
                {
                    _at++;
                    names.Add(Identifier());
                    continue;
                }
                return new Path(names);
            }
        }

        private bool IsMethodAhead()
        {
            var end = _at + 1;
            while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
            {
                end++;
            }
            var next = end;
            while (next < text.Length && char.IsWhiteSpace(text[next]))
            {
                next++;
            }
            return next < text.Length && text[next] == '(';
        }

        private string Identifier()
        {
            SkipSpace();
            var start = _at;
            while (_at < text.Length && (char.IsAsciiLetterOrDigit(text[_at]) || text[_at] == '_'))
            {
                _at++;
            }
            if (start == _at)
            {
                throw Error(_at < text.Length ? $"unexpected '{text[_at]}'" : "the rule ends too early");
            }
            return text[start.._at];
        }

        private string QuotedString()
        {
            var quote = text[_at++];
            var value = new System.Text.StringBuilder();
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\' && _at + 1 < text.Length)
                {
                    _at++;
                    value.Append(text[_at] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', var other => other });
                }
                else
                {
                    value.Append(text[_at]);
                }
                _at++;
            }
            if (_at >= text.Length)
            {
                throw Error("a string is not closed");
            }
            _at++;
            return value.ToString();
        }

        private bool Take(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _at, token, 0, token.Length) == 0)
            {
                _at += token.Length;
                return true;
            }
            return false;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (_at >= text.Length || text[_at] != c)
            {
                throw Error($"'{c}' expected");
            }
            _at++;
        }

        private void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            {
                _at++;
            }
        }

        private FormatException Error(string problem) => new($"Rule `{Quote(text)}`: {problem} at position {_at}.");
    }
}
