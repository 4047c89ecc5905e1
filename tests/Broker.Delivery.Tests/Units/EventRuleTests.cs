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
