using System.Text.Json;
using Broker.Testing;
using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Api;

[Collection(RedisCollection.Name)]
public sealed class RegistryApiTests(RedisFixture redis) : IAsyncLifetime
{
    private const string V1 = """{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}""";
    private const string V2 = """{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string","default":""}]}""";
    private const string V3 = """{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string","default":""},{"name":"age","type":"int","default":0}]}""";
    private const string NeedsName = """{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":"string"}]}""";
    private const string IdAsString = """{"type":"record","name":"User","fields":[{"name":"id","type":"string"}]}""";

    private RegistryHost _registry = null!;
    private string _prefix = "";

    public Task InitializeAsync()
    {
        _prefix = redis.NewPrefix("registry");
        _registry = RegistryHost.OnRedis(redis.ConnectionString, _prefix);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task Registration_is_idempotent_whatever_the_layout_and_a_second_subject_reuses_the_id()
    {
        var first = await _registry.RegisterAsync("users-value", V1);
        Assert.Equal(200, first.Status);
        var id = first.Body.GetProperty("id").GetInt32();
        Assert.Equal(["id"], first.Body.EnumerateObject().Select(p => p.Name));

        var again = await _registry.RegisterAsync("users-value", """{ "fields" : [ { "type" : "long", "name" : "id" } ], "name" : "User", "type" : "record" }""");
        Assert.Equal(id, again.Body.GetProperty("id").GetInt32());
        Assert.Equal("[1]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/users-value/versions")).Body.GetRawText());

        var elsewhere = await _registry.RegisterAsync("audit-value", V1);
        Assert.Equal(id, elsewhere.Body.GetProperty("id").GetInt32());
        var latest = (await _registry.SendAsync(HttpMethod.Get, "/subjects/users-value/versions/latest")).Body;
        Assert.Equal("users-value", latest.GetProperty("subject").GetString());
        Assert.Equal(1, latest.GetProperty("version").GetInt32());
        Assert.Equal(V1, latest.GetProperty("schema").GetString());
        Assert.False(latest.TryGetProperty("schemaType", out _));
        Assert.Equal(latest.GetRawText(), (await _registry.SendAsync(HttpMethod.Get, "/subjects/users-value/versions/-1")).Body.GetRawText());

        var next = await _registry.RegisterAsync("users-value", V2);
        Assert.NotEqual(id, next.Body.GetProperty("id").GetInt32());
        Assert.Equal("[1,2]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/users-value/versions")).Body.GetRawText());
        Assert.Equal("""["audit-value","users-value"]""", (await _registry.SendAsync(HttpMethod.Get, "/subjects")).Body.GetRawText());

        var byId = (await _registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{id}")).Body;
        Assert.Equal(V1, byId.GetProperty("schema").GetString());
        Assert.Equal("""[{"subject":"audit-value","version":1},{"subject":"users-value","version":1}]""",
            (await _registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{id}/versions")).Body.GetRawText());
        Assert.Equal("""["audit-value","users-value"]""", (await _registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{id}/subjects")).Body.GetRawText());
        using var raw = await _registry.Http.GetAsync($"/schemas/ids/{id}/schema");
        Assert.Equal(V1, await raw.Content.ReadAsStringAsync());
        using var rawVersion = await _registry.Http.GetAsync("/subjects/users-value/versions/2/schema");
        Assert.Equal(V2, await rawVersion.Content.ReadAsStringAsync());

        var lookup = await _registry.PostSchemaAsync("/subjects/users-value", V2);
        Assert.Equal(2, lookup.Body.GetProperty("version").GetInt32());
        Assert.Equal(next.Body.GetProperty("id").GetInt32(), lookup.Body.GetProperty("id").GetInt32());
        var all = (await _registry.SendAsync(HttpMethod.Get, "/schemas?latestOnly=true")).Body;
        Assert.Equal(2, all.GetArrayLength());
    }

    [Fact]
    public async Task An_incompatible_schema_is_a_409_with_details_and_writes_nothing()
    {
        await _registry.RegisterAsync("users-value", V1);
        var refused = await _registry.RegisterAsync("users-value", NeedsName);
        RegistryHost.AssertError(refused, 409, 40901);
        var message = refused.Body.GetProperty("message").GetString()!;
        Assert.StartsWith("Schema being registered is incompatible with an earlier schema for subject \"users-value\"", message, StringComparison.Ordinal);
        Assert.Contains("READER_FIELD_MISSING_DEFAULT_VALUE", message, StringComparison.Ordinal);
        Assert.Contains("compatibility: 'BACKWARD'", message, StringComparison.Ordinal);
        Assert.Equal("[1]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/users-value/versions")).Body.GetRawText());

        var forced = await _registry.SendAsync(HttpMethod.Post, "/subjects/users-value/versions?force=true", new { schema = NeedsName });
        Assert.Equal(200, forced.Status);
    }

    [Fact]
    public async Task Transitive_levels_check_every_live_version_and_plain_ones_only_the_latest()
    {
        // v1 {id:long}; v2 drops nothing and adds a defaulted field; IdAsString is incompatible with v1 but registered under NONE.
        Assert.Equal(200, (await _registry.SendAsync(HttpMethod.Put, "/config/plain", new { compatibility = "NONE" })).Status);
        await _registry.RegisterAsync("plain", V1);
        await _registry.RegisterAsync("plain", IdAsString);
        await _registry.SendAsync(HttpMethod.Put, "/config/plain", new { compatibility = "backward" });
        // Against the latest (IdAsString) only: reading it with {id:string, name default} is fine.
        var backToString = """{"type":"record","name":"User","fields":[{"name":"id","type":"string"},{"name":"n","type":"int","default":1}]}""";
        Assert.Equal(200, (await _registry.RegisterAsync("plain", backToString)).Status);

        await _registry.SendAsync(HttpMethod.Put, "/config/strict", new { compatibility = "NONE" });
        await _registry.RegisterAsync("strict", V1);
        await _registry.RegisterAsync("strict", IdAsString);
        await _registry.SendAsync(HttpMethod.Put, "/config/strict", new { compatibility = "BACKWARD_TRANSITIVE" });
        var transitive = await _registry.RegisterAsync("strict", backToString);
        RegistryHost.AssertError(transitive, 409, 40901);
        Assert.Contains("oldSchemaVersion: 1", transitive.Body.GetProperty("message").GetString(), StringComparison.Ordinal);

        // FULL checks both directions against the latest.
        await _registry.SendAsync(HttpMethod.Put, "/config/full", new { compatibility = "FULL" });
        await _registry.RegisterAsync("full", V1);
        Assert.Equal(200, (await _registry.RegisterAsync("full", V2)).Status);
        RegistryHost.AssertError(await _registry.RegisterAsync("full", NeedsName), 409, 40901);
    }

    [Fact]
    public async Task Soft_delete_hides_then_re_registering_gives_a_new_version_with_the_old_id()
    {
        var id = (await _registry.RegisterAsync("events", V1)).Body.GetProperty("id").GetInt32();
        await _registry.RegisterAsync("events", V2);

        Assert.Equal("1", (await _registry.SendAsync(HttpMethod.Delete, "/subjects/events/versions/1")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions/1"), 404, 40402);
        Assert.Equal(V1, (await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions/1?deleted=true")).Body.GetProperty("schema").GetString());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/events/versions/1"), 404, 40406);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/events/versions/2?permanent=true"), 404, 40407);
        Assert.Equal("[2]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions")).Body.GetRawText());
        Assert.Equal("[-1,2]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions?deletedAsNegative=true")).Body.GetRawText());
        // A soft-deleted schema still resolves by id.
        Assert.Equal(200, (await _registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{id}")).Status);

        Assert.Equal("[2]", (await _registry.SendAsync(HttpMethod.Delete, "/subjects/events")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/events"), 404, 40404);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions"), 404, 40401);
        Assert.DoesNotContain("events", (await _registry.SendAsync(HttpMethod.Get, "/subjects")).Body.GetRawText(), StringComparison.Ordinal);
        Assert.Contains("events", (await _registry.SendAsync(HttpMethod.Get, "/subjects?deleted=true")).Body.GetRawText(), StringComparison.Ordinal);

        var again = await _registry.RegisterAsync("events", V1);
        Assert.Equal(id, again.Body.GetProperty("id").GetInt32());
        Assert.Equal("[3]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions")).Body.GetRawText());

        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/events?permanent=true"), 404, 40405);
        await _registry.SendAsync(HttpMethod.Delete, "/subjects/events");
        Assert.Equal("[1,2,3]", (await _registry.SendAsync(HttpMethod.Delete, "/subjects/events?permanent=true")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions?deleted=true"), 404, 40401);
        // After a permanent delete, numbering starts again; the id stays the schema's.
        Assert.Equal(id, (await _registry.RegisterAsync("events", V1)).Body.GetProperty("id").GetInt32());
        Assert.Equal("[1]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/events/versions")).Body.GetRawText());
    }

    [Fact]
    public async Task The_compatibility_endpoints_check_one_version_or_all_and_explain_when_asked()
    {
        await _registry.SendAsync(HttpMethod.Put, "/config/checks", new { compatibility = "NONE" });
        await _registry.RegisterAsync("checks", V1);
        await _registry.RegisterAsync("checks", IdAsString);
        await _registry.SendAsync(HttpMethod.Put, "/config/checks", new { compatibility = "BACKWARD_TRANSITIVE" });

        var againstTwo = await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/2", IdAsString);
        Assert.Equal("""{"is_compatible":true}""", againstTwo.Body.GetRawText());
        var againstOne = await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/1?verbose=true", IdAsString);
        Assert.False(againstOne.Body.GetProperty("is_compatible").GetBoolean());
        Assert.Contains(againstOne.Body.GetProperty("messages").EnumerateArray(), m => m.GetString()!.Contains("TYPE_MISMATCH", StringComparison.Ordinal));
        // The transitive level: every live version.
        var againstAll = await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions", IdAsString);
        Assert.Equal("""{"is_compatible":false}""", againstAll.Body.GetRawText());

        Assert.Equal("""{"is_compatible":true}""", (await _registry.PostSchemaAsync("/compatibility/subjects/nobody/versions/latest", V1)).Body.GetRawText());
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/compatibility/subjects/nobody/versions/3", V1), 404, 40402);
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/9", V1), 404, 40402);
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/x", V1), 422, 42202);
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/latest", "{\"type\":"), 422, 42201);
        var verboseInvalid = await _registry.PostSchemaAsync("/compatibility/subjects/checks/versions/latest?verbose=true", "{\"type\":");
        Assert.False(verboseInvalid.Body.GetProperty("is_compatible").GetBoolean());
        Assert.Single(verboseInvalid.Body.GetProperty("messages").EnumerateArray());
    }

    [Fact]
    public async Task Config_and_mode_follow_confluents_rules()
    {
        Assert.Equal("""{"compatibilityLevel":"BACKWARD"}""", (await _registry.SendAsync(HttpMethod.Get, "/config")).Body.GetRawText());
        Assert.Equal("""{"compatibility":"FULL"}""", (await _registry.SendAsync(HttpMethod.Put, "/config", new { compatibility = "full" })).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/config", new { compatibility = "SIDEWAYS" }), 422, 42203);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/config/s"), 404, 40408);
        Assert.Equal("""{"compatibilityLevel":"FULL"}""", (await _registry.SendAsync(HttpMethod.Get, "/config/s?defaultToGlobal=true")).Body.GetRawText());
        await _registry.SendAsync(HttpMethod.Put, "/config/s", new { compatibility = "NONE" });
        Assert.Equal("""{"compatibilityLevel":"NONE"}""", (await _registry.SendAsync(HttpMethod.Get, "/config/s")).Body.GetRawText());
        Assert.Equal("""{"compatibilityLevel":"NONE"}""", (await _registry.SendAsync(HttpMethod.Delete, "/config/s")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/config/s"), 404, 40401);
        Assert.Equal("""{"compatibilityLevel":"FULL"}""", (await _registry.SendAsync(HttpMethod.Delete, "/config")).Body.GetRawText());
        Assert.Equal("""{"compatibilityLevel":"BACKWARD"}""", (await _registry.SendAsync(HttpMethod.Get, "/config")).Body.GetRawText());

        Assert.Equal("""{"mode":"READWRITE"}""", (await _registry.SendAsync(HttpMethod.Get, "/mode")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/mode/s"), 404, 40409);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/mode", new { mode = "SOMETIMES" }), 422, 42204);
        await _registry.SendAsync(HttpMethod.Put, "/mode/locked", new { mode = "READONLY" });
        RegistryHost.AssertError(await _registry.RegisterAsync("locked", V1), 422, 42205);
        Assert.Equal("""{"mode":"READONLY"}""", (await _registry.SendAsync(HttpMethod.Delete, "/mode/locked")).Body.GetRawText());
        Assert.Equal(200, (await _registry.RegisterAsync("locked", V1)).Status);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/mode/locked"), 404, 40401);

        // IMPORT: only with an id; entering it with schemas present needs force.
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/mode", new { mode = "IMPORT" }), 422, 42205);
        RegistryHost.AssertError(await _registry.RegisterAsync("locked", V2, new { id = 500 }), 422, 42205);
        Assert.Equal("""{"mode":"IMPORT"}""", (await _registry.SendAsync(HttpMethod.Put, "/mode/migrated", new { mode = "IMPORT" })).Body.GetRawText());
        RegistryHost.AssertError(await _registry.RegisterAsync("migrated", V3), 422, 42205);
        Assert.Equal(500, (await _registry.RegisterAsync("migrated", V3, new { id = 500, version = 7 })).Body.GetProperty("id").GetInt32());
        Assert.Equal(500, (await _registry.RegisterAsync("migrated", V3, new { id = 500, version = 7 })).Body.GetProperty("id").GetInt32());
        Assert.Equal("[7]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/migrated/versions")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.RegisterAsync("migrated", NeedsName, new { id = 500 }), 422, 42207);
        var lockedId = (await _registry.PostSchemaAsync("/subjects/locked", V1)).Body.GetProperty("id").GetInt32();
        RegistryHost.AssertError(await _registry.RegisterAsync("migrated", V1, new { id = lockedId + 1000 }), 422, 42207);
        // Ids given on import are never handed out again.
        await _registry.SendAsync(HttpMethod.Delete, "/mode/migrated");
        var fresh = (await _registry.RegisterAsync("after-import", IdAsString)).Body.GetProperty("id").GetInt32();
        Assert.NotEqual(500, fresh);
        Assert.Equal("""{"mode":"READWRITE"}""", (await _registry.SendAsync(HttpMethod.Get, "/mode/x?defaultToGlobal=true")).Body.GetRawText());
    }

    [Fact]
    public async Task Every_refusal_has_confluents_code_and_only_error_code_and_message()
    {
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/missing/versions"), 404, 40401);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/missing/versions/1"), 404, 40401);
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/subjects/missing", V1), 404, 40401);
        await _registry.RegisterAsync("present", V1);
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/subjects/present", V2), 404, 40403);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/present/versions/5"), 404, 40402);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/present/versions/0"), 422, 42202);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/subjects/present/versions/2147483648"), 422, 42202);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/schemas/ids/999999"), 404, 40403);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/schemas/ids/999999/versions"), 404, 40403);
        RegistryHost.AssertError(await _registry.RegisterAsync("present", """{"type":"record","name":"R"}"""), 422, 42201);
        RegistryHost.AssertError(await _registry.RegisterAsync("present", V1, new { schemaType = "PROTOBUF" }), 422, 42201);
        RegistryHost.AssertError(await _registry.RegisterAsync("present", V1, new { references = new[] { new { name = "a.B", subject = "b", version = 1 } } }), 422, 42201);
        RegistryHost.AssertError(await _registry.RegisterAsync("bad\u0001subject", V1), 422, 42208);
        var huge = $$"""{"type":"record","name":"Big","doc":"{{new string('x', 1024 * 1024)}}","fields":[{"name":"a","type":"int"}]}""";
        RegistryHost.AssertError(await _registry.RegisterAsync("present", huge), 422, 42209);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/nothing/here"), 404, 404);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Patch, "/subjects"), 405, 405);

        using var badJson = new HttpRequestMessage(HttpMethod.Post, "/subjects/present/versions") { Content = new StringContent("{\"schema\":", null, RegistryHost.MediaType) };
        using var badJsonAnswer = await _registry.Http.SendAsync(badJson);
        RegistryHost.AssertError(((int)badJsonAnswer.StatusCode, JsonDocument.Parse(await badJsonAnswer.Content.ReadAsStringAsync()).RootElement.Clone()), 400, 400);
        using var wrongType = new HttpRequestMessage(HttpMethod.Post, "/subjects/present/versions") { Content = new StringContent("{}", null, "text/plain") };
        using var wrongTypeAnswer = await _registry.Http.SendAsync(wrongType);
        RegistryHost.AssertError(((int)wrongTypeAnswer.StatusCode, JsonDocument.Parse(await wrongTypeAnswer.Content.ReadAsStringAsync()).RootElement.Clone()), 415, 415);
        // The plain JSON and octet-stream content types are taken as JSON too.
        using var plain = new HttpRequestMessage(HttpMethod.Post, "/subjects/plain-json/versions") { Content = new StringContent(JsonSerializer.Serialize(new { schema = V1 }), null, "application/octet-stream") };
        Assert.Equal(200, (int)(await _registry.Http.SendAsync(plain)).StatusCode);
    }

    [Fact]
    public async Task Forward_levels_check_that_old_schemas_read_new_data_and_full_transitive_checks_both_ways_against_all()
    {
        // FORWARD: the latest version must read data written with the new schema.
        await _registry.SendAsync(HttpMethod.Put, "/config/fwd", new { compatibility = "FORWARD" });
        await _registry.RegisterAsync("fwd", V1);
        // Adding a field without a default is fine forward (old readers ignore it), not backward.
        Assert.Equal(200, (await _registry.RegisterAsync("fwd", NeedsName)).Status);
        // Removing a field the latest reads without a default is not.
        var dropsEmail = """{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"other","type":"int","default":0}]}""";
        RegistryHost.AssertError(await _registry.RegisterAsync("fwd", dropsEmail), 409, 40901);

        // FORWARD_TRANSITIVE: every live version must read the new data; plain FORWARD only the latest.
        var noId = """{"type":"record","name":"User","fields":[{"name":"email","type":"string"}]}""";
        var noIdNoEmail = """{"type":"record","name":"User","fields":[{"name":"other","type":"int","default":0}]}""";
        await _registry.SendAsync(HttpMethod.Put, "/config/fwd-plain", new { compatibility = "NONE" });
        await _registry.RegisterAsync("fwd-plain", V1);
        await _registry.RegisterAsync("fwd-plain", """{"type":"record","name":"User","fields":[{"name":"email","type":"string","default":""}]}""");
        await _registry.SendAsync(HttpMethod.Put, "/config/fwd-plain", new { compatibility = "FORWARD" });
        // The latest ({email default ""}) reads {email}; V1 ({id}) cannot (no id in the new data).
        Assert.Equal(200, (await _registry.RegisterAsync("fwd-plain", noId)).Status);
        await _registry.SendAsync(HttpMethod.Put, "/config/fwd-all", new { compatibility = "NONE" });
        await _registry.RegisterAsync("fwd-all", V1);
        await _registry.RegisterAsync("fwd-all", """{"type":"record","name":"User","fields":[{"name":"email","type":"string","default":""}]}""");
        await _registry.SendAsync(HttpMethod.Put, "/config/fwd-all", new { compatibility = "FORWARD_TRANSITIVE" });
        var refused = await _registry.RegisterAsync("fwd-all", noId);
        RegistryHost.AssertError(refused, 409, 40901);
        Assert.Contains("oldSchemaVersion: 1", refused.Body.GetProperty("message").GetString(), StringComparison.Ordinal);

        // FULL_TRANSITIVE: both directions against every live version.
        await _registry.SendAsync(HttpMethod.Put, "/config/full-all", new { compatibility = "NONE" });
        await _registry.RegisterAsync("full-all", V1);
        await _registry.RegisterAsync("full-all", noIdNoEmail);
        await _registry.SendAsync(HttpMethod.Put, "/config/full-all", new { compatibility = "FULL_TRANSITIVE" });
        // Fully compatible with the latest (both sides default what they lack) but V1 cannot read it: no id.
        var latestOnly = """{"type":"record","name":"User","fields":[{"name":"other","type":"int","default":0},{"name":"more","type":"int","default":1}]}""";
        Assert.True((await _registry.PostSchemaAsync("/compatibility/subjects/full-all/versions/latest", latestOnly)).Body.GetProperty("is_compatible").GetBoolean());
        RegistryHost.AssertError(await _registry.RegisterAsync("full-all", latestOnly), 409, 40901);
        await _registry.SendAsync(HttpMethod.Put, "/config/full-all", new { compatibility = "FULL" });
        Assert.Equal(200, (await _registry.RegisterAsync("full-all", latestOnly)).Status);
    }

    [Fact]
    public async Task Normalize_gives_schemas_that_mean_the_same_one_id_by_query_or_by_config()
    {
        var one = """{"type":"record","name":"Order","namespace":"shop","x-b":1,"x-a":{"k2":1,"k1":2},"aliases":["Z","Y"],"fields":[{"name":"n","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":0}}]}""";
        var two = """{"type":"record","name":"shop.Order","x-a":{"k1":2,"k2":1},"aliases":["shop.Y","Z"],"x-b":1,"fields":[{"name":"n","type":{"type":"bytes","precision":9,"logicalType":"decimal"}}]}""";
        var plainOne = (await _registry.RegisterAsync("plain-orders", one)).Body.GetProperty("id").GetInt32();
        var plainTwo = (await _registry.SendAsync(HttpMethod.Post, "/subjects/plain-orders/versions", new { schema = two })).Body;
        // Without normalization the property order and the aliases' spelling make them two schemas.
        Assert.NotEqual(plainOne, plainTwo.GetProperty("id").GetInt32());

        var first = (await _registry.SendAsync(HttpMethod.Post, "/subjects/orders/versions?normalize=true", new { schema = one })).Body.GetProperty("id").GetInt32();
        var second = (await _registry.SendAsync(HttpMethod.Post, "/subjects/orders/versions?normalize=true", new { schema = two })).Body.GetProperty("id").GetInt32();
        Assert.Equal(first, second);
        Assert.Equal("[1]", (await _registry.SendAsync(HttpMethod.Get, "/subjects/orders/versions")).Body.GetRawText());
        var stored = (await _registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{first}")).Body.GetProperty("schema").GetString()!;
        Assert.Contains("\"x-a\":{\"k1\":2,\"k2\":1},\"x-b\":1", stored, StringComparison.Ordinal);
        Assert.Equal(first, (await _registry.SendAsync(HttpMethod.Post, "/subjects/orders?normalize=true", new { schema = two })).Body.GetProperty("id").GetInt32());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Post, "/subjects/orders", new { schema = two }), 404, 40403);

        // The subject's config says normalize: no query flag needed.
        Assert.Equal("""{"normalize":true}""", (await _registry.SendAsync(HttpMethod.Put, "/config/orders", new { normalize = true })).Body.GetRawText());
        Assert.Equal("""{"normalize":true}""", (await _registry.SendAsync(HttpMethod.Get, "/config/orders")).Body.GetRawText());
        Assert.Equal("""{"compatibilityLevel":"BACKWARD","normalize":true}""", (await _registry.SendAsync(HttpMethod.Get, "/config/orders?defaultToGlobal=true")).Body.GetRawText());
        Assert.Equal(first, (await _registry.RegisterAsync("orders", two)).Body.GetProperty("id").GetInt32());
        Assert.Equal(first, (await _registry.PostSchemaAsync("/subjects/orders", two)).Body.GetProperty("id").GetInt32());
        Assert.Equal("""{"normalize":true}""", (await _registry.SendAsync(HttpMethod.Delete, "/config/orders")).Body.GetRawText());
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/config/orders"), 404, 40408);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/config/orders", new { }), 422, 42203);
    }

    [Fact]
    public async Task The_accept_header_picks_the_response_type_and_one_nothing_matches_is_a_406()
    {
        await _registry.RegisterAsync("typed", V1);
        async Task<(int Status, string? Type, string Body)> Get(string path, string? accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (accept is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", accept);
            }
            using var response = await _registry.Http.SendAsync(request);
            return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal((200, RegistryHost.MediaType), Pick(await Get("/subjects", null)));
        Assert.Equal((200, RegistryHost.MediaType), Pick(await Get("/subjects", "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json")));
        Assert.Equal((200, "application/json"), Pick(await Get("/subjects", "application/json")));
        Assert.Equal((200, "application/vnd.schemaregistry+json"), Pick(await Get("/subjects", "application/json;q=0.5, application/vnd.schemaregistry+json")));
        Assert.Equal((200, RegistryHost.MediaType), Pick(await Get("/subjects", "*/*")));
        // The raw schema endpoints answer in the negotiated type too.
        var raw = await Get("/subjects/typed/versions/1/schema", "application/json");
        Assert.Equal((200, "application/json", V1), (raw.Status, raw.Type, raw.Body));
        var refused = await Get("/subjects", "text/html");
        Assert.Equal(406, refused.Status);
        Assert.Equal("""{"error_code":406,"message":"HTTP 406 Not Acceptable"}""", refused.Body);
        // Not the registry's API: health and metrics answer whatever is asked.
        Assert.Equal(200, (await Get("/health", "text/plain")).Status);

        static (int, string?) Pick((int Status, string? Type, string Body) answer) => (answer.Status, answer.Type);
    }

    [Fact]
    public async Task The_remaining_refusals_have_confluents_codes_too()
    {
        var id = (await _registry.RegisterAsync("held", V1)).Body.GetProperty("id").GetInt32();
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/config/bad\u0001subject", new { compatibility = "FULL" }), 422, 42208);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/mode/bad\u0001subject", new { mode = "READONLY" }), 422, 42208);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Put, "/config/held", new { compatibility = "SIDEWAYS" }), 422, 42203);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/schemas/ids/999999/schema"), 404, 40403);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Get, "/schemas/ids/999999/subjects"), 404, 40403);
        // An invalid schema is 42201 even where the subject does not exist (it is parsed first).
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/subjects/nobody-here", "{\"type\":"), 422, 42201);
        // No global mode was set: nothing to delete.
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/mode"), 404, 40401);

        // READONLY refuses deletes as it refuses registrations; what was there stays.
        await _registry.SendAsync(HttpMethod.Put, "/mode/held", new { mode = "READONLY" });
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/held"), 422, 42205);
        RegistryHost.AssertError(await _registry.SendAsync(HttpMethod.Delete, "/subjects/held/versions/1"), 422, 42205);
        Assert.Equal(id, (await _registry.SendAsync(HttpMethod.Get, "/subjects/held/versions/1")).Body.GetProperty("id").GetInt32());
        await _registry.SendAsync(HttpMethod.Delete, "/mode/held");
    }

    [Fact]
    public async Task A_store_that_cannot_be_reached_is_a_50001()
    {
        // A port nothing listens on: every store call fails at once.
        await using var cut = RegistryHost.OnRedis($"127.0.0.1:{LoopbackPort.Free()},connectTimeout=200", _prefix);
        var answer = await cut.SendAsync(HttpMethod.Get, "/subjects");
        RegistryHost.AssertError(answer, 500, 50001);
    }

    [Fact]
    public async Task Two_hundred_distinct_schemas_registered_from_eight_tasks_on_two_instances_get_distinct_ids_and_dense_versions()
    {
        // A second registry instance on the same Redis: the ids and versions must not collide across them either.
        await using var second = RegistryHost.OnRedis(redis.ConnectionString, _prefix);
        await _registry.SendAsync(HttpMethod.Put, "/config/crowded", new { compatibility = "NONE" });
        var hosts = new[] { _registry, second };
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(task => Task.Run(async () =>
        {
            var ids = new List<int>();
            for (var i = task; i < 200; i += 8)
            {
                var schema = $$"""{"type":"record","name":"Event{{i}}","fields":[{"name":"n{{i}}","type":"int"}]}""";
                var answer = await hosts[task % 2].RegisterAsync("crowded", schema);
                Assert.Equal(200, answer.Status);
                ids.Add(answer.Body.GetProperty("id").GetInt32());
            }
            return ids;
        })));
        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(200, all.Distinct().Count());
        var versions = (await _registry.SendAsync(HttpMethod.Get, "/subjects/crowded/versions")).Body.EnumerateArray().Select(v => v.GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, 200), versions);
        var idsByVersion = new HashSet<int>();
        foreach (var version in versions)
        {
            idsByVersion.Add((await _registry.SendAsync(HttpMethod.Get, $"/subjects/crowded/versions/{version}")).Body.GetProperty("id").GetInt32());
        }
        Assert.Equal(all.Order(), idsByVersion.Order());
    }
}
