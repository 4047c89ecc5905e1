using Broker.Schemas.Avro;

namespace Broker.Schemas.Tests;

/// <summary>
/// Our compatibility table, written from the Avro specification's resolution rules as Avro's Java checker
/// applies them. Each case is a reader, a writer and what a reader of that schema meets when it reads data
/// written with the writer's: nothing (compatible), or these error types at these paths.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AvroCompatibilityTests
{
    private const string Ok = "";

    // Named types used by several cases.
    private const string Point = """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""";
    private const string Suit = """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES","CLUBS"]}""";
    private const string Md5 = """{"type":"fixed","name":"Md5","size":16}""";
    private const string List = """{"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}""";

    public static TheoryData<string, string, string, string> Cases => new()
    {
        // name, reader, writer, expected ("" = compatible; else "TYPE@location" joined by ';')
        // Primitives and promotions: int→long/float/double, long→float/double, float→double, string↔bytes.
        { "int reads int", "\"int\"", "\"int\"", Ok },
        { "long reads int", "\"long\"", "\"int\"", Ok },
        { "int does not read long", "\"int\"", "\"long\"", "TYPE_MISMATCH@" },
        { "float reads int", "\"float\"", "\"int\"", Ok },
        { "float reads long", "\"float\"", "\"long\"", Ok },
        { "double reads int", "\"double\"", "\"int\"", Ok },
        { "double reads long", "\"double\"", "\"long\"", Ok },
        { "double reads float", "\"double\"", "\"float\"", Ok },
        { "float does not read double", "\"float\"", "\"double\"", "TYPE_MISMATCH@" },
        { "long does not read float", "\"long\"", "\"float\"", "TYPE_MISMATCH@" },
        { "int does not read float", "\"int\"", "\"float\"", "TYPE_MISMATCH@" },
        { "bytes reads string", "\"bytes\"", "\"string\"", Ok },
        { "string reads bytes", "\"string\"", "\"bytes\"", Ok },
        { "string does not read int", "\"string\"", "\"int\"", "TYPE_MISMATCH@" },
        { "boolean does not read int", "\"boolean\"", "\"int\"", "TYPE_MISMATCH@" },
        { "null reads null", "\"null\"", "\"null\"", Ok },
        { "null does not read string", "\"null\"", "\"string\"", "TYPE_MISMATCH@" },
        { "a date reads an int (logical types by their base)", """{"type":"int","logicalType":"date"}""", "\"int\"", Ok },
        { "a timestamp reads an int (promotion under a logical type)", """{"type":"long","logicalType":"timestamp-millis"}""", "\"int\"", Ok },
        { "a uuid string reads bytes", """{"type":"string","logicalType":"uuid"}""", "\"bytes\"", Ok },

        // Records.
        { "the same record", Point, Point, Ok },
        { "a record reads an error of the same name (one RECORD type)",
            """{"type":"record","name":"Oops","fields":[{"name":"m","type":"string"}]}""", """{"type":"error","name":"Oops","fields":[{"name":"m","type":"string"}]}""", Ok },
        { "a reader field with a default the writer lacks",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"},{"name":"z","type":"int","default":0}]}""", Point, Ok },
        { "a reader field without a default the writer lacks",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"},{"name":"z","type":"int"}]}""", Point,
            "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/2" },
        { "a writer field the reader dropped", """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"}]}""", Point, Ok },
        { "a field promoted int to long",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"long"},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a field narrowed long to int", Point,
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"long"},{"name":"y","type":"int"}]}""", "TYPE_MISMATCH@/fields/0/type" },
        { "records with different names",
            """{"type":"record","name":"Spot","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", Point, "NAME_MISMATCH@/name" },
        { "records match on the unqualified name (namespaces differ)",
            """{"type":"record","name":"Point","namespace":"maps","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a reader alias naming the writer's full name",
            """{"type":"record","name":"Spot","namespace":"maps","aliases":["geo.Point"],"fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a short reader alias resolves in the reader's namespace",
            """{"type":"record","name":"Spot","namespace":"geo","aliases":["Point"],"fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a reader alias in another namespace than the writer's",
            """{"type":"record","name":"Spot","namespace":"maps","aliases":["Point"],"fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", Point, "NAME_MISMATCH@/name" },
        { "a writer alias does not count", Point,
            """{"type":"record","name":"Spot","namespace":"geo","aliases":["Point"],"fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}""", "NAME_MISMATCH@/name" },
        { "a renamed field found through the reader field's alias",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"lon","type":"int","aliases":["x"]},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a renamed field without alias or default",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"lon","type":"int"},{"name":"y","type":"int"}]}""", Point,
            "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/0" },
        { "a renamed field with a default",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"lon","type":"int","default":0},{"name":"y","type":"int"}]}""", Point, Ok },
        { "a new optional field defaulting to null",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"},{"name":"label","type":["null","string"],"default":null}]}""", Point, Ok },
        { "every missing default is reported",
            """{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}""", Point,
            "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/0;READER_FIELD_MISSING_DEFAULT_VALUE@/fields/1" },

        // Enums.
        { "the same enum", Suit, Suit, Ok },
        { "a reader enum with more symbols", """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES","CLUBS","DIAMONDS"]}""", Suit, Ok },
        { "a reader enum missing a writer symbol", """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES"]}""", Suit, "MISSING_ENUM_SYMBOLS@/symbols" },
        { "a reader enum missing a symbol but with a default",
            """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES","UNKNOWN"],"default":"UNKNOWN"}""", Suit, Ok },
        { "a writer enum default does not help the reader", """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES"]}""",
            """{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES","CLUBS"],"default":"HEARTS"}""", "MISSING_ENUM_SYMBOLS@/symbols" },
        { "enums with different names", """{"type":"enum","name":"Color","symbols":["HEARTS","SPADES","CLUBS"]}""", Suit, "NAME_MISMATCH@/name" },
        { "enum symbols in another order", """{"type":"enum","name":"Suit","symbols":["CLUBS","HEARTS","SPADES"]}""", Suit, Ok },

        // Fixed.
        { "the same fixed", Md5, Md5, Ok },
        { "fixed of another size", """{"type":"fixed","name":"Md5","size":20}""", Md5, "FIXED_SIZE_MISMATCH@/size" },
        { "fixed of another name", """{"type":"fixed","name":"Sha1","size":16}""", Md5, "NAME_MISMATCH@/name" },
        { "fixed does not read bytes", Md5, "\"bytes\"", "TYPE_MISMATCH@" },
        { "bytes does not read fixed", "\"bytes\"", Md5, "TYPE_MISMATCH@" },

        // Arrays and maps.
        { "an array of longs reads an array of ints", """{"type":"array","items":"long"}""", """{"type":"array","items":"int"}""", Ok },
        { "an array of ints does not read an array of longs", """{"type":"array","items":"int"}""", """{"type":"array","items":"long"}""", "TYPE_MISMATCH@/items" },
        { "a map of doubles reads a map of floats", """{"type":"map","values":"double"}""", """{"type":"map","values":"float"}""", Ok },
        { "a map of ints does not read a map of strings", """{"type":"map","values":"int"}""", """{"type":"map","values":"string"}""", "TYPE_MISMATCH@/values" },
        { "a map of strings reads a map of bytes", """{"type":"map","values":"string"}""", """{"type":"map","values":"bytes"}""", Ok },
        { "an array does not read a map", """{"type":"array","items":"int"}""", """{"type":"map","values":"int"}""", "TYPE_MISMATCH@" },

        // Unions, both ways.
        { "a union with the writer's type reads it", """["null","string"]""", "\"string\"", Ok },
        { "a union without the writer's type", """["null","int"]""", "\"string\"", "MISSING_UNION_BRANCH@" },
        { "a union reads a type it promotes from", """["null","long"]""", "\"int\"", Ok },
        { "a plain reader needs every writer branch", "\"string\"", """["null","string"]""", "TYPE_MISMATCH@/0" },
        { "a plain reader reading every writer branch", "\"string\"", """["string","bytes"]""", Ok },
        { "a wider reader union", """["null","string","int"]""", """["null","string"]""", Ok },
        { "a narrower reader union", """["null","string"]""", """["null","string","int"]""", "MISSING_UNION_BRANCH@/2" },
        { "union branches in another order", """["int","string"]""", """["string","int"]""", Ok },
        { "a long reads a union of int and long", "\"long\"", """["int","long"]""", Ok },
        { "a union of a grown record reads the old one",
            """["null",{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"},{"name":"z","type":"int","default":0}]}]""",
            $"[\"null\",{Point}]", Ok },
        { "a union whose record has another name",
            """["null",{"type":"record","name":"Spot","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}]""", Point, "MISSING_UNION_BRANCH@" },

        // Nested and recursive.
        { "a change deep in a nested record",
            """{"type":"record","name":"Line","fields":[{"name":"from","type":{"type":"record","name":"End","fields":[{"name":"x","type":"int"}]}}]}""",
            """{"type":"record","name":"Line","fields":[{"name":"from","type":{"type":"record","name":"End","fields":[{"name":"x","type":"string"}]}}]}""",
            "TYPE_MISMATCH@/fields/0/type/fields/0/type" },
        { "a recursive list read by itself", List, List, Ok },
        { "a recursive list whose reader adds a defaulted field",
            """{"type":"record","name":"Node","fields":[{"name":"value","type":"long"},{"name":"next","type":["null","Node"],"default":null},{"name":"tag","type":"string","default":""}]}""",
            List, Ok },
        { "a recursive list whose reader adds a field without default",
            """{"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"],"default":null},{"name":"tag","type":"string"}]}""",
            List, "READER_FIELD_MISSING_DEFAULT_VALUE@/fields/2" },
        { "an array of records whose reader needs a new field",
            """{"type":"array","items":{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"},{"name":"z","type":"int"}]}}""",
            $$"""{"type":"array","items":{{Point}}}""", "READER_FIELD_MISSING_DEFAULT_VALUE@/items/fields/2" },
        { "a map of enums losing a symbol",
            """{"type":"map","values":{"type":"enum","name":"Suit","symbols":["HEARTS"]}}""", $$"""{"type":"map","values":{{Suit}}}""", "MISSING_ENUM_SYMBOLS@/values/symbols" },
        { "a record field of a union whose reader is narrower",
            """{"type":"record","name":"R","fields":[{"name":"v","type":["null","int"]}]}""", """{"type":"record","name":"R","fields":[{"name":"v","type":["null","int","string"]}]}""",
            "MISSING_UNION_BRANCH@/fields/0/type/2" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reader_writer_pairs_resolve_as_the_rules_say(string name, string reader, string writer, string expected)
    {
        var problems = AvroCompatibility.Check(AvroCanonicalForm.Parse(reader), AvroCanonicalForm.Parse(writer));
        var found = string.Join(";", problems.Select(p => $"{p.ErrorType}@{p.Location}"));
        Assert.True(expected == found, $"{name}: expected [{expected}], found [{found}] ({string.Join(" ", problems)})");
    }

    [Fact]
    public void The_table_covers_at_least_sixty_cases_in_both_outcomes()
    {
        var cases = Cases.ToList();
        Assert.True(cases.Count >= 60, $"{cases.Count} cases");
        Assert.Contains(cases, c => (string)c[3] == Ok);
        Assert.Contains(cases, c => (string)c[3] != Ok);
    }

    [Fact]
    public void Incompatibilities_explain_themselves_with_a_path()
    {
        var reader = AvroCanonicalForm.Parse("""{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string"}]}""");
        var writer = AvroCanonicalForm.Parse("""{"type":"record","name":"User","fields":[{"name":"id","type":"int"}]}""");
        var problem = Assert.Single(AvroCompatibility.Check(reader, writer));
        Assert.Equal(
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'email' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'email'}",
            problem.ToString());
    }
}
