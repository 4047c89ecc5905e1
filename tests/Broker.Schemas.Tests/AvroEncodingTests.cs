using System.Text.Json;
using Avro.Generic;
using Avro.IO;
using Broker.Schemas.Avro;
using Broker.Schemas.Wire;

namespace Broker.Schemas.Tests;

[Trait("Category", "Unit")]
public sealed class AvroEncodingTests
{
    private const string User = """
        {"type":"record","name":"User","namespace":"shop","fields":[
          {"name":"id","type":"long"},
          {"name":"name","type":"string"},
          {"name":"tier","type":{"type":"enum","name":"Tier","symbols":["FREE","PRO"]}},
          {"name":"email","type":["null","string"],"default":null},
          {"name":"tags","type":{"type":"array","items":"string"},"default":[]},
          {"name":"scores","type":{"type":"map","values":"double"},"default":{}},
          {"name":"digest","type":{"type":"fixed","name":"Digest","size":4}},
          {"name":"born","type":{"type":"int","logicalType":"date"}},
          {"name":"active","type":"boolean","default":true}
        ]}
        """;

    [Theory]
    [InlineData("""{"type":"string"}""", "\"string\"")]
    [InlineData(""" "string" """, "\"string\"")]
    [InlineData("""{"type":"int","logicalType":"date"}""", """{"type":"int","logicalType":"date"}""")]
    [InlineData("""{"fields":[{"type":"int","name":"a"}],"name":"R","type":"record"}""", """{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}""")]
    [InlineData("""{"type":"record","namespace":"n","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"f","type":"E"},{"name":"g","type":"n.E"}]}""",
        """{"type":"record","name":"R","namespace":"n","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"f","type":"E"},{"name":"g","type":"E"}]}""")]
    [InlineData("""{"type":"record","name":"a.R","fields":[{"name":"x","type":{"type":"fixed","name":"b.F","size":2}},{"name":"y","type":"b.F"}]}""",
        """{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","namespace":"b","size":2}},{"name":"y","type":"b.F"}]}""")]
    [InlineData("""{"type":"record","name":"R","connect.name":"x","doc":"d","fields":[{"name":"a","type":"int","default":1,"doc":"fd","order":"ascending","aliases":["b"]}],"aliases":["Q"]}""",
        """{"type":"record","name":"R","doc":"d","fields":[{"name":"a","type":"int","doc":"fd","default":1,"aliases":["b"]}],"connect.name":"x","aliases":["Q"]}""")]
    [InlineData("""{"type":"array","items":"string","doc":"tags","x":1}""", """{"type":"array","items":"string","x":1}""")]
    [InlineData("""{"type":"string","doc":"x","aliases":["y"]}""", "\"string\"")]
    public void The_canonical_text_is_javas_whatever_the_layout(string schema, string canonical) =>
        Assert.Equal(canonical, AvroCanonicalForm.Canonicalize(schema));

    [Fact]
    public void Whitespace_and_key_order_do_not_change_the_canonical_text()
    {
        var compact = AvroCanonicalForm.Canonicalize(User);
        var shuffled = AvroCanonicalForm.Canonicalize("""
            { "namespace" : "shop", "fields" : [
                { "type" : "long", "name" : "id" }, { "type" : "string", "name" : "name" },
                { "type" : { "symbols" : ["FREE","PRO"], "name" : "Tier", "type" : "enum" }, "name" : "tier" },
                { "default" : null, "type" : ["null","string"], "name" : "email" },
                { "default" : [], "type" : { "items" : "string", "type" : "array" }, "name" : "tags" },
                { "default" : {}, "type" : { "values" : "double", "type" : "map" }, "name" : "scores" },
                { "type" : { "size" : 4, "name" : "Digest", "type" : "fixed" }, "name" : "digest" },
                { "type" : { "logicalType" : "date", "type" : "int" }, "name" : "born" },
                { "default" : true, "type" : "boolean", "name" : "active" } ],
              "name" : "User", "type" : "record" }
            """);
        Assert.Equal(compact, shuffled);
        Assert.DoesNotContain(" ", compact, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"record","name":"R"}""")]
    [InlineData("""{"type":"enum","name":"E","symbols":["A","A"]}""")]
    [InlineData("""{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}""")]
    [InlineData("""{"type":"strin"}""")]
    [InlineData("""not json""")]
    [InlineData("""{"type":"fixed","name":"F"}""")]
    [InlineData("""{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}""")]
    [InlineData("""{"type":"record","name":"R","fields":[{"name":"a","type":["string","int"],"default":null}]}""")]
    [InlineData("""[{"type":"record","name":"R","fields":[]},{"type":"record","name":"R","fields":[{"name":"b","type":"int"}]}]""")]
    [InlineData("""[{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]},{"type":"record","name":"W","namespace":"n","fields":[{"name":"f","type":{"type":"record","name":"R","namespace":"","fields":[{"name":"b","type":"string"}]}}]}]""")]
    [InlineData("""{"type":"enum","name":"E","symbols":["A"],"default":"Z"}""")]
    public void Invalid_schemas_are_refused_with_a_message(string schema)
    {
        var error = Assert.Throws<InvalidSchemaException>(() => AvroCanonicalForm.Canonicalize(schema));
        Assert.StartsWith("Invalid schema", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_values_encode_to_the_binary_apache_avro_reads_back_and_the_validator_accepts()
    {
        var schema = AvroCanonicalForm.Parse(User).Schema;
        using var json = JsonDocument.Parse("""
            {"id":42,"name":"Ada","tier":"PRO","email":{"string":"ada@example.com"},"tags":["a","b"],"scores":{"x":1.5},
             "digest":"\u0001\u0002\u00ff\u0000","born":19000}
            """);
        var bytes = AvroJsonEncoder.Encode(schema, json.RootElement);

        Assert.True(AvroBinaryValidator.TryValidate(schema, bytes, out var error), error);
        var record = (GenericRecord)new GenericDatumReader<object>(schema, schema).Read(null!, new BinaryDecoder(new MemoryStream(bytes)));
        Assert.Equal(42L, record["id"]);
        Assert.Equal("Ada", record["name"]);
        Assert.Equal("PRO", ((GenericEnum)record["tier"]).Value);
        Assert.Equal("ada@example.com", record["email"]);
        Assert.Equal(new object[] { "a", "b" }, (object[])record["tags"]);
        Assert.Equal(new byte[] { 1, 2, 255, 0 }, ((GenericFixed)record["digest"]).Value);
        Assert.Equal(true, record["active"]); // from the default
    }

    [Theory]
    [InlineData("""{"id":"x","name":"A","tier":"PRO","digest":"abcd","born":1}""", "/id")]
    [InlineData("""{"id":1,"name":"A","tier":"GOLD","digest":"abcd","born":1}""", "GOLD")]
    [InlineData("""{"id":1,"name":"A","tier":"PRO","digest":"abc","born":1}""", "4 bytes")]
    [InlineData("""{"id":1,"name":"A","tier":"PRO","digest":"abcd","born":1,"email":"bare"}""", "union")]
    [InlineData("""{"id":1,"tier":"PRO","digest":"abcd","born":1}""", "'name'")]
    public void Json_values_that_do_not_fit_are_refused_with_where_and_why(string value, string mentioned)
    {
        using var json = JsonDocument.Parse(value);
        var error = Assert.Throws<AvroEncodingException>(() => AvroJsonEncoder.Encode(AvroCanonicalForm.Parse(User).Schema, json.RootElement));
        Assert.Contains(mentioned, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_refuses_truncated_padded_and_out_of_range_bodies()
    {
        var schema = AvroCanonicalForm.Parse(User).Schema;
        using var json = JsonDocument.Parse("""{"id":1,"name":"Ada","tier":"FREE","digest":"abcd","born":1}""");
        var good = AvroJsonEncoder.Encode(schema, json.RootElement);
        Assert.True(AvroBinaryValidator.TryValidate(schema, good, out _));

        Assert.False(AvroBinaryValidator.TryValidate(schema, good.AsSpan(0, good.Length - 1), out var truncated));
        Assert.NotNull(truncated);
        Assert.False(AvroBinaryValidator.TryValidate(schema, [.. good, 0], out var padded));
        Assert.Contains("left over", padded, StringComparison.Ordinal);

        var badEnum = (byte[])good.Clone();
        badEnum[5] = 0x08; // id (1 byte) + name (1 + 3 bytes) → the enum index: symbol 4 of 2
        Assert.False(AvroBinaryValidator.TryValidate(schema, badEnum, out var enumError));
        Assert.Contains("enum", enumError, StringComparison.Ordinal);

        Assert.False(AvroBinaryValidator.TryValidate(AvroCanonicalForm.Parse("\"string\"").Schema, [0x04, 0xff, 0xfe], out var utf8));
        Assert.Contains("UTF-8", utf8, StringComparison.Ordinal);
        Assert.False(AvroBinaryValidator.TryValidate(AvroCanonicalForm.Parse("\"int\"").Schema, [0xff, 0xff, 0xff, 0xff, 0xff, 0x01], out var longInt));
        Assert.Contains("5 bytes", longInt, StringComparison.Ordinal);
        // A billion nulls in a few bytes is not a value we walk.
        Assert.False(AvroBinaryValidator.TryValidate(AvroCanonicalForm.Parse("""{"type":"array","items":"null"}""").Schema, [0x80, 0xa8, 0xd6, 0xb9, 0x07, 0x00], out var many));
        Assert.Contains("items", many, StringComparison.Ordinal);
    }

    [Fact]
    public void A_union_default_may_fit_any_branch_and_encodes_in_the_branch_it_fits()
    {
        var schema = AvroCanonicalForm.Parse("""{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":"none"},{"name":"b","type":"int"}]}""").Schema;
        using var json = JsonDocument.Parse("""{"b":1}""");
        var bytes = AvroJsonEncoder.Encode(schema, json.RootElement);
        var record = (GenericRecord)new GenericDatumReader<object>(schema, schema).Read(null!, new BinaryDecoder(new MemoryStream(bytes)));
        Assert.Equal("none", record["a"]);
    }

    [Fact]
    public void The_validator_refuses_what_would_blow_the_stack_lie_about_block_sizes_or_stretch_an_int()
    {
        var node = AvroCanonicalForm.Parse("""{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}""").Schema;
        var deep = Enumerable.Repeat((byte)2, 100_000).Append((byte)0).ToArray();
        Assert.False(AvroBinaryValidator.TryValidate(node, deep, out var depth));
        Assert.Contains("deeper", depth, StringComparison.Ordinal);
        Assert.True(AvroBinaryValidator.TryValidate(node, [2, 2, 2, 0], out _));

        var ints = AvroCanonicalForm.Parse("""{"type":"array","items":"int"}""").Schema;
        Assert.False(AvroBinaryValidator.TryValidate(ints, [0x03, 0x7e, 0x02, 0x00, 0x00], out var size));
        Assert.Contains("block", size, StringComparison.Ordinal);
        Assert.True(AvroBinaryValidator.TryValidate(ints, [0x03, 0x04, 0x02, 0x00, 0x00], out _));

        var union = AvroCanonicalForm.Parse("""["null","int"]""").Schema;
        Assert.False(AvroBinaryValidator.TryValidate(union, [0x82, 0x80, 0x80, 0x80, 0x80, 0x00, 0x02], out var index));
        Assert.Contains("5 bytes", index, StringComparison.Ordinal);

        var map = AvroCanonicalForm.Parse("""{"type":"map","values":"int"}""").Schema;
        Assert.False(AvroBinaryValidator.TryValidate(map, [0x02, 0x02, 0xff, 0x02, 0x00], out var key));
        Assert.Contains("UTF-8", key, StringComparison.Ordinal);

        // A million nulls take no time: they take no bytes.
        var nulls = AvroCanonicalForm.Parse("""{"type":"array","items":"null"}""").Schema;
        Assert.True(AvroBinaryValidator.TryValidate(nulls, [0x80, 0x89, 0x7a, 0x00], out _));
    }

    [Fact]
    public void The_wire_format_header_is_magic_zero_and_a_big_endian_id()
    {
        var framed = new byte[8];
        ConfluentWireFormat.WriteHeader(framed, 258);
        Assert.Equal(new byte[] { 0, 0, 0, 1, 2 }, framed[..5]);
        Assert.True(ConfluentWireFormat.TryRead(framed, out var id, out var body, out _));
        Assert.Equal(258, id);
        Assert.Equal(3, body.Length);
        Assert.False(ConfluentWireFormat.TryRead([1, 0, 0, 0, 1], out _, out _, out var magic));
        Assert.Contains("magic byte", magic, StringComparison.Ordinal);
        Assert.False(ConfluentWireFormat.TryRead([0, 0, 1], out _, out _, out var shortError));
        Assert.Contains("shorter", shortError, StringComparison.Ordinal);
    }
}
