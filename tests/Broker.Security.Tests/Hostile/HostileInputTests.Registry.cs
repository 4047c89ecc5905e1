using System.Text;
using System.Text.Json;
using Broker.Testing;

namespace Broker.Security.Tests.Hostile;

public sealed partial class HostileInputTests
{
    private const int Unprocessable = 422;

    // ---- The schema registry ----------------------------------------------------------------------------------------

    private IEnumerable<HostileCase> RegistryCases()
    {
        Task<Answer> Post(string path, HttpContent body) => Registry(HttpMethod.Post, path, body);
        HttpContent Schema(string schema) => RegistryJson(JsonSerializer.Serialize(new { schema }));

        var validRequest = JsonSerializer.Serialize(new { schema = CanarySchema });
        var endpoints = new (string Name, Func<string> Path)[]
        {
            ("POST /subjects/{s}/versions", () => $"/subjects/{Fresh("s")}/versions"),
            ("POST /subjects/{s} (lookup)", () => $"/subjects/{CanarySubject}"),
            ("POST /compatibility/subjects/{s}/versions/latest", () => $"/compatibility/subjects/{CanarySubject}/versions/latest"),
            ("POST /compatibility/subjects/{s}/versions", () => $"/compatibility/subjects/{CanarySubject}/versions"),
        };
        foreach (var (endpoint, path) in endpoints)
        {
            foreach (var (name, body, statuses) in BrokenBodies(validRequest, "schema"))
            {
                yield return new($"registry {endpoint}: {name}", () => Post(path(), AsRegistry(body())), statuses);
            }
        }
        foreach (var (name, schema, statuses) in BadSchemas())
        {
            yield return new($"registry POST /subjects/{{s}}/versions: {name}", () => Post($"/subjects/{Fresh("s")}/versions", Schema(schema())), statuses);
        }
        foreach (var (name, schema, statuses) in BadSchemas().Where(s => s.Name.Contains("bomb", StringComparison.Ordinal) || s.Name.Contains("nested", StringComparison.Ordinal)))
        {
            yield return new($"registry POST /subjects/{{s}} (lookup): {name}", () => Post($"/subjects/{CanarySubject}", Schema(schema())), statuses);
            yield return new($"registry POST /compatibility/subjects/{{s}}/versions/latest: {name}", () =>
                Post($"/compatibility/subjects/{CanarySubject}/versions/latest", Schema(schema())), statuses);
        }
        foreach (var (name, json) in new[]
        {
            ("schemaType PROTOBUF", JsonSerializer.Serialize(new { schema = CanarySchema, schemaType = "PROTOBUF" })),
            ("schemaType as a number", $$"""{"schema":{{JsonString(CanarySchema)}},"schemaType":5}"""),
            ("references", JsonSerializer.Serialize(new { schema = CanarySchema, references = new[] { new { name = "x", subject = "y", version = 1 } } })),
            ("an id outside IMPORT mode", JsonSerializer.Serialize(new { schema = CanarySchema, id = 12345 })),
            ("an id of 2^31", $$"""{"schema":{{JsonString(CanarySchema)}},"id":2147483648}"""),
            ("a schema as a number", """{"schema":42}"""),
            ("a schema as an object", """{"schema":{"type":"int"}}"""),
            ("no schema", "{}"),
            ("a null schema", """{"schema":null}"""),
            ("a null body", "null"),
        })
        {
            yield return new($"registry POST /subjects/{{s}}/versions: {name}", () => Post($"/subjects/{Fresh("s")}/versions", RegistryJson(json)), [BadRequest, Unprocessable]);
        }

        // Subjects the registry refuses by name (it takes any other text, as Confluent's does), versions and ids.
        foreach (var (name, subject, server) in new[]
        {
            ("a subject of 1,000 characters", Payloads.Text(1_000), false), ("a blank subject", "%20%20", false), ("a subject with a control character", "a%01b", false),
            ("a subject with a NUL (Kestrel's bare 400)", "a%00b", true), ("a subject with a newline", "a%0Ab", false),
        })
        {
            int[] statuses = server ? [BadRequest] : [Unprocessable];
            yield return new($"registry POST /subjects/{{{name}}}/versions", () => Post($"/subjects/{subject}/versions", Schema(CanarySchema)), statuses, server);
            yield return new($"registry PUT /config/{{{name}}}", () => Registry(HttpMethod.Put, $"/config/{subject}", RegistryJson("""{"compatibility":"NONE"}""")), statuses, server);
            yield return new($"registry PUT /mode/{{{name}}}", () => Registry(HttpMethod.Put, $"/mode/{subject}", RegistryJson("""{"mode":"READONLY"}""")), statuses, server);
        }
        yield return new("registry POST /subjects/{100 KB subject}/versions", () => Post($"/subjects/{Payloads.Text(100 * 1024)}/versions", Schema(CanarySchema)),
            [UriTooLong], ServerLevel: true);
        foreach (var version in new[] { "0", "-2", "abc", "2147483648", "1e3", "1.0", "%20", "latest%01" })
        {
            yield return new($"registry GET /subjects/{{s}}/versions/{version}", () => Registry(HttpMethod.Get, $"/subjects/{CanarySubject}/versions/{version}"),
                [Unprocessable, NotFound]);
            yield return new($"registry DELETE /subjects/{{s}}/versions/{version}", () => Registry(HttpMethod.Delete, $"/subjects/{CanarySubject}/versions/{version}"),
                [Unprocessable, NotFound]);
        }
        yield return new("registry GET /subjects/{s}/versions/latest of a subject nobody registered", () => Registry(HttpMethod.Get, "/subjects/nobody-value/versions/latest"),
            [NotFound]);
        yield return new("registry DELETE /subjects/{s}?permanent=true of a subject still live", () => Registry(HttpMethod.Delete, $"/subjects/{CanarySubject}?permanent=true"),
            [NotFound]);
        yield return new("registry DELETE /subjects/{s}/versions/1?permanent=true of a version still live", () =>
            Registry(HttpMethod.Delete, $"/subjects/{CanarySubject}/versions/1?permanent=true"), [NotFound]);
        foreach (var id in new[] { "-1", "0", "2147483647", "2147483648", "abc", "1e3" })
        {
            yield return new($"registry GET /schemas/ids/{id}", () => Registry(HttpMethod.Get, $"/schemas/ids/{id}"), [NotFound]);
        }
        yield return new("registry POST /compatibility/subjects/{s}/versions/abc", () =>
            Post($"/compatibility/subjects/{CanarySubject}/versions/abc", Schema(CanarySchema)), [Unprocessable]);
        yield return new("registry POST /compatibility/subjects/{s}/versions/99", () =>
            Post($"/compatibility/subjects/{CanarySubject}/versions/99", Schema(CanarySchema)), [NotFound]);

        foreach (var (path, json) in new[]
        {
            ("/config", """{"compatibility":"SIDEWAYS"}"""), ("/config", """{"compatibility":5}"""), ("/config", "{}"), ("/config", """{"normalize":"yes"}"""),
            ("/config", """{"compatibility":""}"""), ($"/config/{CanarySubject}", """{"compatibility":"backward-ish"}"""),
            ("/mode", """{"mode":"CHAOS"}"""), ("/mode", """{"mode":7}"""), ("/mode", "{}"), ("/mode", """{"mode":""}"""), ($"/mode/{CanarySubject}", """{"mode":"WRITEONLY"}"""),
            ("/mode", """{"mode":"IMPORT"}"""),
        })
        {
            yield return new($"registry PUT {path}: {json}", () => Registry(HttpMethod.Put, path, RegistryJson(json)), [BadRequest, Unprocessable]);
        }
        foreach (var (path, field) in new[] { ("/config", "compatibility"), ("/mode", "mode") })
        {
            foreach (var (name, body, statuses) in BrokenBodies(path == "/config" ? """{"compatibility":"FULL"}""" : """{"mode":"READONLY"}""", field))
            {
                yield return new($"registry PUT {path}: {name}", () => Registry(HttpMethod.Put, path, AsRegistry(body())), statuses);
            }
        }
        yield return new("registry POST /subjects/{s}/versions: a 7 MB body (past what SchemaRegistry:MaxSchemaBytes takes)", () =>
            Post($"/subjects/{Fresh("s")}/versions", Bytes(Payloads.Filled("{\"schema\":\"", 7 * 1024 * 1024, "\"}"), RegistryType)), [TooLarge]);
        yield return new("registry POST /subjects/{s}/versions: a schema of 2 MB (past SchemaRegistry:MaxSchemaBytes)", () =>
            Post($"/subjects/{Fresh("s")}/versions", Bytes(Payloads.Filled("{\"schema\":" + JsonString("{\"type\":\"record\",\"name\":\"Big\",\"doc\":\"")[..^1],
                2 * 1024 * 1024, JsonString("\",\"fields\":[]}")[1..] + "}"), RegistryType)), [Unprocessable]);
        yield return new("registry GET /subjects with Accept: text/html", () =>
            Registry(HttpMethod.Get, "/subjects", configure: r => r.Headers.Accept.ParseAdd("text/html")), [406]);
        yield return new("registry POST /subjects/{s}/versions as application/xml", () =>
            Post($"/subjects/{Fresh("s")}/versions", new StringContent("<schema/>", Encoding.UTF8, "application/xml")), [UnsupportedType]);
        yield return new("registry PATCH /subjects", () => Registry(HttpMethod.Patch, "/subjects"), [405, NotFound]);
    }

    /// <summary>The registry reads its own media types; the generic broken bodies are sent as its JSON.</summary>
    private static HttpContent AsRegistry(HttpContent content)
    {
        if (content.Headers.ContentType?.MediaType == "application/json")
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(RegistryType);
        }
        return content;
    }

    /// <summary>Schema texts the registry must refuse (42201, or 42209 past SchemaRegistry:MaxSchemaBytes): name → the text, and the statuses.</summary>
    private static IEnumerable<(string Name, Func<string> Schema, int[] Statuses)> BadSchemas()
    {
        int[] invalid = [Unprocessable];
        yield return ("a schema bomb nested 63 records deep (past SchemaRegistry:MaxSchemaNesting)", () => AvroBombs.UnionRoot(63), invalid);
        yield return ("a schema bomb as nested records 30 deep (JSON past 64 levels)", () => AvroBombs.RecordRoot(30), invalid);
        yield return ("a union of 5,000 records (past SchemaRegistry:MaxSchemaTypes)", () =>
            "[" + string.Join(",", Enumerable.Range(0, 5_000).Select(i => $$"""{"type":"record","name":"M{{i}}","fields":[{"name":"n","type":"int"}]}""")) + "]", invalid);
        yield return ("a schema nested 10,000 arrays deep", () => new string('[', Payloads.Depth) + "\"int\"" + new string(']', Payloads.Depth), invalid);
        yield return ("an array type nested 10,000 deep", () =>
            string.Concat(Enumerable.Repeat("""{"type":"array","items":""", Payloads.Depth)) + "\"int\"" + new string('}', Payloads.Depth), invalid);
        yield return ("text that is not JSON", () => "not json", invalid);
        yield return ("JSON cut short", () => """{"type":"record","name":"R","fields":[{"name":"a","type":""", invalid);
        yield return ("an empty schema", () => "", invalid);
        yield return ("an unknown type", () => "\"quaternion\"", invalid);
        yield return ("a record without a name", () => """{"type":"record","fields":[]}""", invalid);
        yield return ("a record without fields", () => """{"type":"record","name":"R"}""", invalid);
        yield return ("a field of an undefined type", () => """{"type":"record","name":"R","fields":[{"name":"a","type":"Undefined"}]}""", invalid);
        yield return ("a name with a space", () => """{"type":"record","name":"a b","fields":[]}""", invalid);
        yield return ("a field twice", () => """{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}""", invalid);
        yield return ("a type defined twice", () => """["null",{"type":"record","name":"R","fields":[]},{"type":"record","name":"R","fields":[]}]""", invalid);
        yield return ("a union in a union", () => """["null",["int","string"]]""", invalid);
        yield return ("an enum with a symbol twice", () => """{"type":"enum","name":"E","symbols":["A","A"]}""", invalid);
        yield return ("an enum default not among its symbols", () => """{"type":"enum","name":"E","symbols":["A"],"default":"B"}""", invalid);
        yield return ("a fixed of size -1", () => """{"type":"fixed","name":"F","size":-1}""", invalid);
        yield return ("a fixed of size 2^31", () => """{"type":"fixed","name":"F","size":2147483648}""", invalid);
        yield return ("a fixed of size 1e400", () => """{"type":"fixed","name":"F","size":1e400}""", invalid);
        yield return ("a fixed of size \"4\"", () => """{"type":"fixed","name":"F","size":"4"}""", invalid);
        yield return ("a field default of the wrong type", () => """{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}""", invalid);
        yield return ("a field default nested 10,000 deep", () =>
            $$"""{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":{{new string('[', Payloads.Depth)}}{{new string(']', Payloads.Depth)}}}]}""", invalid);
        yield return ("a decimal of precision -1", () => """{"type":"bytes","logicalType":"decimal","precision":-1,"scale":0}""", invalid);
        yield return ("a decimal of precision 2^31", () => """{"type":"bytes","logicalType":"decimal","precision":2147483648,"scale":0}""", invalid);
        yield return ("a decimal of scale 2^36", () => """{"type":"bytes","logicalType":"decimal","precision":4,"scale":68719476736}""", invalid);
    }
}
