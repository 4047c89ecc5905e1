using System.Diagnostics;
using System.Text.Json;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Confluent.SchemaRegistry;

namespace Broker.Security.Tests.Clients;

/// <summary>
/// Confluent's registry clients as their users configure them against a secured registry: the .NET client with
/// <c>BasicAuthCredentialsSource = UserInfo</c> and @kafkajs/confluent-schema-registry with its <c>auth</c> option,
/// both sending Basic principal:key. Without a credential, or with the wrong one, 401; without the right, 403.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RegistryClientsTests(RedisFixture redis)
{
    private const string Order = """{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"int"}]}""";
    private const string OrderV2 = """{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}]}""";

    [Fact]
    public async Task Confluents_dotnet_client_with_basic_auth_user_info()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("confluent"));
        await broker.GrantAsync("alice", "subject", "orders-value", "read", "write");

        using var alice = Client(broker, $"alice:{SecureBroker.AliceKey}");
        var id = await alice.RegisterSchemaAsync("orders-value", new Schema(Order, SchemaType.Avro));
        Assert.Equal(id, await alice.RegisterSchemaAsync("orders-value", new Schema(Order, SchemaType.Avro)));
        Assert.Contains("\"Order\"", (await alice.GetSchemaAsync(id)).SchemaString, StringComparison.Ordinal);
        Assert.Equal(id, (await alice.GetLatestSchemaAsync("orders-value")).Id);
        Assert.True(await alice.IsCompatibleAsync("orders-value", new Schema(OrderV2, SchemaType.Avro)));
        Assert.Contains("orders-value", await alice.GetAllSubjectsAsync());

        foreach (var (userInfo, status) in new[] { ((string?)null, 401), ($"alice:{SecureBroker.WrongKey}", 401), ($"bob:{SecureBroker.AliceKey}", 401), ($"bob:{SecureBroker.BobKey}", 403) })
        {
            using var client = Client(broker, userInfo);
            var refused = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync("orders-value", new Schema(OrderV2, SchemaType.Avro)));
            Assert.Equal(status, (int)refused.Status);
        }
        // What bob may not see is not listed either.
        using var bob = Client(broker, $"bob:{SecureBroker.BobKey}");
        Assert.DoesNotContain("orders-value", await bob.GetAllSubjectsAsync());
    }

    [Fact]
    public async Task The_kafkajs_registry_client_with_its_auth_option()
    {
        var folder = Path.Combine(RepositoryRoot(), "tests", "SchemaRegistry.Tests", "Client", "kafkajs");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "@kafkajs")),
            $"Run `npm ci --prefix {folder}` first (./test.sh does): the client package is not installed.");
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("kafkajs-auth"));
        // The client sets a new subject's compatibility after its first registration: alter on the subject.
        await broker.GrantAsync("alice", "subject", "payments-value", "read", "write", "alter");

        var (code, output, errors) = await RunNodeAsync(folder, broker.Registry, "alice", SecureBroker.AliceKey);
        Assert.True(code == 0, $"node exited with {code}: {errors}");
        using var result = JsonDocument.Parse(output);
        Assert.Equal(result.RootElement.GetProperty("id").GetInt32(), result.RootElement.GetProperty("latestId").GetInt32());
        Assert.Equal("p-1", result.RootElement.GetProperty("decoded").GetProperty("id").GetString());

        var (bobCode, _, bobErrors) = await RunNodeAsync(folder, broker.Registry, "bob", SecureBroker.BobKey);
        Assert.NotEqual(0, bobCode);
        Assert.Contains("403", bobErrors, StringComparison.Ordinal);
        var (nobodyCode, _, nobodyErrors) = await RunNodeAsync(folder, broker.Registry, null, null);
        Assert.NotEqual(0, nobodyCode);
        Assert.Contains("401", nobodyErrors, StringComparison.Ordinal);
    }

    private static CachedSchemaRegistryClient Client(SecureBroker broker, string? userInfo)
    {
        var config = new SchemaRegistryConfig { Url = broker.Registry.ToString().TrimEnd('/') };
        if (userInfo is not null)
        {
            config.BasicAuthCredentialsSource = AuthCredentialsSource.UserInfo;
            config.BasicAuthUserInfo = userInfo;
        }
        return new CachedSchemaRegistryClient(config);
    }

    private static async Task<(int Code, string Output, string Errors)> RunNodeAsync(string folder, Uri registry, string? user, string? password)
    {
        var start = new ProcessStartInfo("node", "client.mjs")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["REGISTRY_URL"] = registry.ToString().TrimEnd('/'), ["SUBJECT"] = "payments-value" },
        };
        if (user is not null)
        {
            start.Environment["REGISTRY_USER"] = user;
            start.Environment["REGISTRY_PASSWORD"] = password;
        }
        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start (is it on PATH?)");
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await node.WaitForExitAsync(timeout.Token);
        return (node.ExitCode, (await stdout).Trim(), await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Broker.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("The repository root (Broker.slnx) is not above the test assembly.");
    }
}
