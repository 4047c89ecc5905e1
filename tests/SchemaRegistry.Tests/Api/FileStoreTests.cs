using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Api;

/// <summary>Without Redis the registry keeps its schemas in a file, and finds them there after a restart.</summary>
public sealed class FileStoreTests : IDisposable
{
    private const string Schema = """{"type":"record","name":"Note","fields":[{"name":"text","type":"string"}]}""";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "registry-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task Schemas_config_and_ids_survive_a_restart_on_the_file_store()
    {
        int id;
        await using (var first = RegistryHost.OnFiles(_directory))
        {
            id = (await first.RegisterAsync("notes-value", Schema)).Body.GetProperty("id").GetInt32();
            await first.SendAsync(HttpMethod.Put, "/config/notes-value", new { compatibility = "FULL" });
        }
        Assert.True(File.Exists(Path.Combine(_directory, "registry.json")));

        await using var second = RegistryHost.OnFiles(_directory);
        var latest = (await second.SendAsync(HttpMethod.Get, "/subjects/notes-value/versions/latest")).Body;
        Assert.Equal(id, latest.GetProperty("id").GetInt32());
        Assert.Equal("""{"compatibilityLevel":"FULL"}""", (await second.SendAsync(HttpMethod.Get, "/config/notes-value")).Body.GetRawText());
        var other = """{"type":"record","name":"Other","fields":[{"name":"n","type":"int"}]}""";
        Assert.Equal(id + 1, (await second.RegisterAsync("others-value", other)).Body.GetProperty("id").GetInt32());
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
