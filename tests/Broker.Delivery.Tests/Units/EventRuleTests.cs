using System.Globalization;
using System.Text.Json;
using Broker.Delivery.Dapr;

namespace Broker.Delivery.Tests.Units;

/// <summary>Dapr routing rules (the CEL subset over the CloudEvent) as apps write them.</summary>
public sealed class EventRuleTests
{
    private static readonly JsonElement s_event = JsonDocument.Parse("""
        {"specversion":"1.0","id":"1","type":"widget","source":"shop","topic":"orders",
         "data":{"kind":"big","quantity":150,"price":2.5,"gift":true,"note":null,"tags":["a"],"customer":{"tier":"gold"}}}
        """).RootElement;

    [Theory]
    [InlineData("event.type == \"widget\"", true)]
    [InlineData("event.type == 'widget'", true)]
    [InlineData("event.type != \"widget\"", false)]
    [InlineData("event.data.quantity > 100", true)]
    [InlineData("event.data.quantity >= 150 && event.data.price < 3", true)]
    [InlineData("event.data.quantity <= 149 || event.data.kind == \"big\"", true)]
    [InlineData("!(event.data.gift)", false)]
    [InlineData("event.data.gift == true && event.data.note == null", true)]
    [InlineData("event.data.customer.tier == \"gold\"", true)]
    [InlineData("event[\"data\"][\"customer\"].tier == \"gold\"", true)]
    [InlineData("event.type.startsWith(\"wid\") && event.source.endsWith(\"op\")", true)]
    [InlineData("event.topic.contains(\"rde\")", true)]
    [InlineData("has(event.data.kind) && !has(event.data.colour)", true)]
    // A field that is not there makes a comparison fail, whichever way it compares.
    [InlineData("event.data.colour == \"red\"", false)]
    [InlineData("event.data.colour != \"red\"", false)]
    // …unless the other side of || or && decides.
    [InlineData("event.data.colour == \"red\" || event.type == \"widget\"", true)]
    [InlineData("event.data.colour == \"red\" && event.type == \"gadget\"", false)]
    // Different types never compare equal; an object is not a value.
    [InlineData("event.data.quantity == \"150\"", false)]
    [InlineData("event.data.customer == \"gold\"", false)]
    [InlineData("event.type", false)]
    public void Matches_as_CEL_would(string rule, bool matches) => Assert.Equal(matches, EventRule.Parse(rule).Matches(s_event));

    [Theory]
    [InlineData("event.type ==")]
    [InlineData("event.type == \"widget")]
    [InlineData("type == \"widget\"")]
    [InlineData("(event.type == \"widget\"")]
    [InlineData("event.type.size() > 1")]
    [InlineData("event.type == \"a\" &&")]
    [InlineData("")]
    public void Rules_it_cannot_read_are_refused_saying_where(string rule)
    {
        var error = Assert.Throws<FormatException>(() => EventRule.Parse(rule));
        Assert.Contains("position", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>
/// The bounds on a rule (it comes from an app or the REST API): its text and its nesting, refused with a
/// FormatException naming the limit, never a stack overflow; long flat chains are fine.
/// </summary>
public sealed class EventRuleLimitTests
{
    private static readonly JsonElement s_event = JsonDocument.Parse("""{"type":"widget","data":{"n":1}}""").RootElement;

    [Fact]
    public void The_attack_100_KB_of_nested_parentheses_is_refused_by_its_length_naming_the_limit()
    {
        var rule = new string('(', 50_000) + "true" + new string(')', 50_000);
        var error = Assert.Throws<FormatException>(() => EventRule.Parse(rule));
        Assert.Contains("EventRule.MaxLength", error.Message, StringComparison.Ordinal);
        Assert.Contains(EventRule.MaxLength.ToString(CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 400, "the message quotes the rule, not all of it");
    }

    [Fact]
    public void Parentheses_at_the_depth_limit_parse_and_one_more_level_is_refused_naming_the_limit()
    {
        var atLimit = EventRule.Parse(Nested(EventRule.MaxDepth));
        Assert.True(atLimit.Matches(s_event));
        Assert.Equal(EventRule.MaxDepth, atLimit.Depth);

        var error = Assert.Throws<FormatException>(() => EventRule.Parse(Nested(EventRule.MaxDepth + 1)));
        Assert.Contains("EventRule.MaxDepth", error.Message, StringComparison.Ordinal);
        Assert.Contains("deeper than 32", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chains_of_not_count_as_nesting()
    {
        // An even number of '!' keeps the value: true at the limit.
        Assert.True(EventRule.Parse(new string('!', EventRule.MaxDepth) + "true").Matches(s_event));
        Assert.False(EventRule.Parse(new string('!', EventRule.MaxDepth - 1) + "(true)").Matches(s_event));
        var error = Assert.Throws<FormatException>(() => EventRule.Parse(new string('!', EventRule.MaxDepth + 1) + "true"));
        Assert.Contains("EventRule.MaxDepth", error.Message, StringComparison.Ordinal);
        // As long as the size limit allows: refused by depth, not by a stack overflow.
        Assert.Throws<FormatException>(() => EventRule.Parse(new string('!', EventRule.MaxLength - 4) + "true"));
    }

    [Fact]
    public void Method_calls_and_their_arguments_count_as_nesting()
    {
        var chain = "event.type" + string.Concat(Enumerable.Repeat(".contains(\"w\")", EventRule.MaxDepth));
        Assert.Equal(EventRule.MaxDepth, EventRule.Parse(chain).Depth);
        Assert.Throws<FormatException>(() => EventRule.Parse(chain + ".contains(\"w\")"));
        var inArgument = "event.type.startsWith(" + Nested(EventRule.MaxDepth - 1, "\"w\"") + ")";
        Assert.True(EventRule.Parse(inArgument).Matches(s_event));
        Assert.Throws<FormatException>(() => EventRule.Parse("event.type.startsWith(" + Nested(EventRule.MaxDepth, "\"w\"") + ")"));
    }

    [Theory]
    [InlineData(" && ", true)]
    [InlineData(" || ", true)]
    public void Long_flat_chains_up_to_the_size_limit_parse_flat_and_evaluate_in_a_loop(string op, bool expected)
    {
        const string term = "event.data.n == 1";
        var count = (EventRule.MaxLength + op.Length) / (term.Length + op.Length);
        var chain = string.Join(op, Enumerable.Repeat(term, count));
        Assert.InRange(chain.Length, EventRule.MaxLength - term.Length - op.Length, EventRule.MaxLength);
        var rule = EventRule.Parse(chain);
        Assert.Equal(0, rule.Depth);

        Assert.Equal(expected, MatchesOnASmallStack(rule));

        // The shortest terms give the longest chain the size limit allows (683 operands): still flat.
        var shortest = string.Join(op.Trim(), Enumerable.Repeat("true", (EventRule.MaxLength + 2) / 6));
        var longest = EventRule.Parse(shortest);
        Assert.Equal(0, longest.Depth);
        Assert.True(MatchesOnASmallStack(longest));
        Assert.Throws<FormatException>(() => EventRule.Parse(shortest + op.Trim() + "true"));
    }

    /// <summary>Evaluates on a thread with a 64 KiB stack: a chain nested one node per operand would need far more.</summary>
    private static bool MatchesOnASmallStack(EventRule rule)
    {
        var matched = false;
        var thread = new Thread(() => matched = rule.Matches(s_event), maxStackSize: 64 * 1024);
        thread.Start();
        thread.Join();
        return matched;
    }

    [Theory]
    // CEL's commutative errors survive the flattening: a missing field is absorbed wherever the decider sits.
    [InlineData("event.nope == 1 && event.type == \"widget\" && false", false)]
    [InlineData("event.nope == 1 || event.type == \"gadget\" || true", true)]
    [InlineData("event.type == \"widget\" && event.nope == 1 && true", false)]
    [InlineData("true && true && event.nope == 1", false)]
    [InlineData("!(true && true && event.nope == 1)", false)]
    [InlineData("false || false || event.type == \"widget\"", true)]
    [InlineData("event.type == \"widget\" && event.data.n == 1 || false", true)]
    public void Flattened_chains_keep_the_rules_meaning(string rule, bool matches) =>
        Assert.Equal(matches, EventRule.Parse(rule).Matches(s_event));

    private static string Nested(int levels, string inner = "true") => new string('(', levels) + inner + new string(')', levels);
}
