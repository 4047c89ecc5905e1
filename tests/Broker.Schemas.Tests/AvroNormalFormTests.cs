using Broker.Schemas.Avro;

namespace Broker.Schemas.Tests;

[Trait("Category", "Unit")]
public sealed class AvroNormalFormTests
{
    private static string Normal(string schema) => AvroNormalForm.Normalize(AvroCanonicalForm.Parse(schema)).Canonical;

    [Theory]
    // Property and default key order, alias order and spelling, short or full names, a decimal's scale of 0.
    [InlineData(
        """{"type":"record","name":"R","namespace":"a","x-b":1,"x-a":2,"aliases":["Q","a.P"],"fields":[{"name":"f","type":"int","default":1,"x-z":1,"x-y":2}]}""",
        """{"type":"record","name":"a.R","aliases":["P","a.Q"],"x-a":2,"x-b":1,"fields":[{"x-y":2,"name":"f","x-z":1,"default":1,"type":"int"}]}""")]
    [InlineData(
        """{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":2}},{"name":"y","type":"F","aliases":["y2","y1"]},{"name":"m","type":{"type":"map","values":"a.F"}}]}""",
        """{"type":"record","name":"a.R","fields":[{"name":"x","type":{"type":"fixed","name":"a.F","size":2}},{"name":"y","type":"a.F","aliases":["y1","y2"]},{"name":"m","type":{"type":"map","values":"F"}}]}""")]
    [InlineData(
        """{"type":"record","name":"R","fields":[{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":0}},{"name":"o","type":{"type":"record","name":"O","fields":[{"name":"k","type":"int"}]},"default":{"k":1}}]}""",
        """{"type":"record","name":"R","fields":[{"name":"d","type":{"precision":4,"type":"bytes","logicalType":"decimal"}},{"name":"o","type":{"type":"record","name":"O","fields":[{"name":"k","type":"int"}]},"default":{"k":1}}]}""")]
    public void Schemas_that_mean_the_same_normalize_to_the_same_text(string one, string two)
    {
        Assert.NotEqual(AvroCanonicalForm.Canonicalize(one), AvroCanonicalForm.Canonicalize(two));
        Assert.Equal(Normal(one), Normal(two));
        Assert.Equal(Normal(one), Normal(Normal(one)));
    }

    [Theory]
    [InlineData("""{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}""", """{"type":"bytes","logicalType":"decimal","precision":4}""")]
    [InlineData("""{"type":"enum","name":"E","symbols":["A","B"]}""", """{"type":"enum","name":"E","symbols":["B","A"]}""")]
    [InlineData("""{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}""",
        """{"type":"record","name":"R","fields":[{"name":"b","type":"int"},{"name":"a","type":"int"}]}""")]
    public void Schemas_that_differ_in_meaning_stay_apart(string one, string two) =>
        Assert.NotEqual(Normal(one), Normal(two));

    [Fact]
    public void The_normal_form_names_types_by_full_name_and_keeps_an_empty_namespace_said()
    {
        var normal = Normal("""{"type":"record","name":"R","namespace":"a.b","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"],"aliases":["Old"]}}]}""");
        Assert.Equal("""{"type":"record","name":"R","namespace":"a.b","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"],"aliases":["Old"]}}]}""", normal);
        var parsed = AvroCanonicalForm.Parse(normal);
        Assert.True(parsed.HasAlias("a.b.E", "a.b.Old"));
    }
}
