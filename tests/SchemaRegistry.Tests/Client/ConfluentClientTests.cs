using System.Diagnostics;
using System.Text.Json;
using Broker.Schemas.Avro;
using Broker.Schemas.Wire;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Client;

/// <summary>
/// A Confluent client nobody here wrote, @kafkajs/confluent-schema-registry under node, against the real
/// registry on a real port: it registers a schema, encodes a record and decodes it again.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ConfluentClientTests(RedisFixture redis)
{
    [Fact]
    public async Task The_kafkajs_registry_client_registers_encodes_and_decodes_against_us()
    {
        var clientFolder = Path.Combine(RepositoryRoot(), "tests", "SchemaRegistry.Tests", "Client", "kafkajs");
        Assert.True(Directory.Exists(Path.Combine(clientFolder, "node_modules", "@kafkajs")),
            $"Run `npm ci --prefix {clientFolder}` first (./test.sh does): the client package is not installed.");

        await using var app = await StartRegistryAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["SchemaRegistry:KeyPrefix"] = redis.NewPrefix("kafkajs").TrimEnd(':'),
        });
        var url = app.Urls.First();

        var output = await RunNodeAsync(clientFolder, "client.mjs", new Dictionary<string, string> { ["REGISTRY_URL"] = url, ["SUBJECT"] = "payments-value" });
        using var result = JsonDocument.Parse(output);
        var root = result.RootElement;
        var id = root.GetProperty("id").GetInt32();
        Assert.Equal(id, root.GetProperty("again").GetInt32());
        Assert.Equal(id, root.GetProperty("latestId").GetInt32());
        Assert.Equal("shop.Payment", root.GetProperty("fetchedName").GetString());
        var decoded = root.GetProperty("decoded");
        Assert.Equal("p-1", decoded.GetProperty("id").GetString());
        Assert.Equal(12.5, decoded.GetProperty("amount").GetDouble());
        Assert.Equal("EUR", decoded.GetProperty("currency").GetString());
        Assert.Equal("first", decoded.GetProperty("note").GetString());

        // What the client wrote is the wire format our own code reads: magic byte, the id, Avro binary in the schema.
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var stored = JsonDocument.Parse(await http.GetStringAsync($"/schemas/ids/{id}")).RootElement.GetProperty("schema").GetString()!;
        var encoded = Convert.FromHexString(root.GetProperty("encoded").GetString()!);
        Assert.True(ConfluentWireFormat.TryRead(encoded, out var framedId, out var body, out var error), error);
        Assert.Equal(id, framedId);
        Assert.True(AvroBinaryValidator.TryValidate(AvroCanonicalForm.Parse(stored).Schema, body, out var invalid), invalid);
    }

    private static async Task<WebApplication> StartRegistryAsync(IReadOnlyDictionary<string, string?> settings)
    {
        // Not the test folder's appsettings.json, whose Kestrel endpoint (8081) would override the free port and collide with a
        // registry the AppHost tests run meanwhile.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = "SchemaRegistry",
            EnvironmentName = "Development",
            ContentRootPath = Path.GetTempPath(),
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        builder.AddRegistryServices();
        var app = builder.Build();
        app.MapRegistry();
        await app.StartAsync();
        return app;
    }

    private static async Task<string> RunNodeAsync(string folder, string script, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("node", script)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start (is it on PATH?)");
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, $"node {script} exited with {node.ExitCode}: {await stderr}");
        return (await stdout).Trim();
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
