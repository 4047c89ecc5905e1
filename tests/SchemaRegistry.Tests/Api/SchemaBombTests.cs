using System.Diagnostics;
using Broker.Testing;
using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Api;

/// <summary>
/// Schema bombs through the API: within the limits they register and check compatibility in milliseconds (each
/// pair of named types compared once); past them they are refused with 42201 naming the limit. A recursive
/// schema (a linked list) is a schema like any other.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SchemaBombTests(RedisFixture redis) : IAsyncLifetime
{
    private const string Extra = """{"name":"y","type":"long","default":0}""";
    // Generous for a shared, loaded machine: the expanding walks took minutes (or ran out of memory) at this depth.
    private static readonly TimeSpan s_generous = TimeSpan.FromSeconds(10);
    private RegistryHost _registry = null!;

    public Task InitializeAsync()
    {
        _registry = RegistryHost.OnRedis(redis.ConnectionString, redis.NewPrefix("bombs"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Theory]
    [InlineData(false, "int")]
    [InlineData(true, "int")]
    [InlineData(false, "null")]
    [InlineData(true, "null")]
    public async Task A_bomb_30_deep_registers_and_a_second_version_is_checked_in_milliseconds(bool nullable, string leaf)
    {
        var subject = $"bomb-{nullable}-{leaf}";
        var v1 = await TimedAsync(() => _registry.RegisterAsync(subject, AvroBombs.UnionRoot(30, nullable, leaf)));
        Assert.Equal(200, v1.Status);

        // BACKWARD (the default): the new version is checked against the first.
        var v2 = await TimedAsync(() => _registry.RegisterAsync(subject, AvroBombs.UnionRootWith(30, Extra, nullable, leaf)));
        Assert.Equal(200, v2.Status);
        Assert.NotEqual(v1.Body.GetProperty("id").GetInt32(), v2.Body.GetProperty("id").GetInt32());

        // Incompatible at the leaf every path reaches: each reason once, not once per path.
        var changedLeaf = AvroBombs.UnionRoot(30, nullable, leaf == "int" ? "string" : "int");
        var check = await TimedAsync(() => _registry.PostSchemaAsync($"/compatibility/subjects/{subject}/versions/latest?verbose=true", changedLeaf));
        Assert.Equal(200, check.Status);
        Assert.False(check.Body.GetProperty("is_compatible").GetBoolean());
        Assert.InRange(check.Body.GetProperty("messages").GetArrayLength(), 1, 31 + 3);
        RegistryHost.AssertError(await TimedAsync(() => _registry.RegisterAsync(subject, changedLeaf)), 409, 40901);

        // Looked up by its text again: the same id.
        var lookup = await TimedAsync(() => _registry.PostSchemaAsync($"/subjects/{subject}", AvroBombs.UnionRoot(30, nullable, leaf)));
        Assert.Equal(v1.Body.GetProperty("id").GetInt32(), lookup.Body.GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task Schemas_past_the_limits_are_refused_with_42201_naming_the_limit()
    {
        // Nesting: a union, 64 records and the leaf.
        var deep = await _registry.RegisterAsync("deep", AvroBombs.UnionRoot(63));
        RegistryHost.AssertError(deep, 422, 42201);
        Assert.Contains("MaxSchemaNesting", deep.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(200, (await _registry.RegisterAsync("deep", AvroBombs.UnionRoot(61))).Status);

        // Types: a union of 5,000 one-int records is 10,001 of them.
        var many = "[" + string.Join(",", Enumerable.Range(0, 5_000).Select(i => $$"""{"type":"record","name":"M{{i}}","fields":[{"name":"n","type":"int"}]}""")) + "]";
        var wide = await _registry.RegisterAsync("wide", many);
        RegistryHost.AssertError(wide, 422, 42201);
        Assert.Contains("MaxSchemaTypes", wide.Body.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The record-root shape 30 deep nests its JSON past what the parsers take.
        var nested = await _registry.RegisterAsync("nested", AvroBombs.RecordRoot(30));
        RegistryHost.AssertError(nested, 422, 42201);
        Assert.Contains("MaxDepth of 64", nested.Body.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The same checks on lookup and on the compatibility endpoint (verbose: the reason as a message).
        RegistryHost.AssertError(await _registry.PostSchemaAsync("/subjects/deep", AvroBombs.UnionRoot(63)), 422, 42201);
        var verbose = await _registry.PostSchemaAsync("/compatibility/subjects/deep/versions/latest?verbose=true", AvroBombs.UnionRoot(63));
        Assert.False(verbose.Body.GetProperty("is_compatible").GetBoolean());
        Assert.Contains("MaxSchemaNesting", verbose.Body.GetProperty("messages")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_limits_are_settings()
    {
        await using var strict = RegistryHost.OnRedis(redis.ConnectionString, redis.NewPrefix("strict"),
            new Dictionary<string, string> { ["SchemaRegistry:MaxSchemaNesting"] = "10", ["SchemaRegistry:MaxSchemaTypes"] = "50" }, configure: null);
        var deep = await strict.RegisterAsync("deep", AvroBombs.UnionRoot(8));
        RegistryHost.AssertError(deep, 422, 42201);
        Assert.Contains("the limit (MaxSchemaNesting) is 10", deep.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(200, (await strict.RegisterAsync("deep", AvroBombs.UnionRoot(7))).Status);
        var many = "[" + string.Join(",", Enumerable.Range(0, 25).Select(i => $$"""{"type":"record","name":"M{{i}}","fields":[{"name":"n","type":"int"}]}""")) + "]";
        Assert.Contains("the limit (MaxSchemaTypes) is 50", (await strict.RegisterAsync("wide", many)).Body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_linked_list_registers_evolves_and_is_checked_like_any_schema()
    {
        const string node = """{"type":"record","name":"Node","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"]}]}""";
        Assert.Equal(200, (await _registry.RegisterAsync("list", node)).Status);
        var labelled = node.Replace("""{"name":"value","type":"int"}""", """{"name":"value","type":"int"},{"name":"label","type":"string","default":""}""", StringComparison.Ordinal);
        Assert.Equal(200, (await _registry.RegisterAsync("list", labelled)).Status);
        var asText = node.Replace("\"int\"", "\"string\"", StringComparison.Ordinal);
        var refused = await _registry.RegisterAsync("list", asText);
        RegistryHost.AssertError(refused, 409, 40901);
        Assert.Contains("TYPE_MISMATCH", refused.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static async Task<T> TimedAsync<T>(Func<Task<T>> request)
    {
        var clock = Stopwatch.StartNew();
        var answer = await request();
        Assert.True(clock.Elapsed < s_generous, $"took {clock.Elapsed}");
        return answer;
    }
}
