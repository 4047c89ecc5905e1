using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace SchemaRegistry.Tests.Hosting;

/// <summary>The real registry in-process: on Redis (a key prefix of its own) or on its file store in a temporary folder.</summary>
public sealed class RegistryHost : IAsyncDisposable
{
    public const string MediaType = "application/vnd.schemaregistry.v1+json";
    private readonly WebApplicationFactory<Program> _factory;

    private RegistryHost(IReadOnlyDictionary<string, string> settings, Action<IWebHostBuilder>? configure = null)
    {
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }
            configure?.Invoke(web);
        });
        Http = _factory.CreateClient();
    }

    public HttpClient Http { get; }

    public static RegistryHost OnRedis(string redis, string prefix) => new(new Dictionary<string, string>
    {
        ["ConnectionStrings:redis"] = redis,
        ["SchemaRegistry:KeyPrefix"] = prefix.TrimEnd(':'),
    });

    /// <summary>On Redis, with more settings and whatever else the test adds to the host (a logger provider, say).</summary>
    public static RegistryHost OnRedis(string redis, string prefix, IReadOnlyDictionary<string, string> settings, Action<IWebHostBuilder>? configure) =>
        new(new Dictionary<string, string>(settings)
        {
            ["ConnectionStrings:redis"] = redis,
            ["SchemaRegistry:KeyPrefix"] = prefix.TrimEnd(':'),
        }, configure);

    public static RegistryHost OnFiles(string directory) => new(new Dictionary<string, string> { ["SchemaRegistry:DataDirectory"] = directory });

    public async Task<(int Status, JsonElement Body)> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, MediaType);
        }
        using var response = await Http.SendAsync(request);
        Assert.Equal(MediaType, response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public Task<(int Status, JsonElement Body)> RegisterAsync(string subject, string schema, object? extra = null) =>
        SendAsync(HttpMethod.Post, $"/subjects/{subject}/versions", Merge(new Dictionary<string, object?> { ["schema"] = schema }, extra));

    public Task<(int Status, JsonElement Body)> PostSchemaAsync(string path, string schema) =>
        SendAsync(HttpMethod.Post, path, new { schema });

    /// <summary>Asserts an error answer has Confluent's status, code and nothing but error_code and message.</summary>
    public static void AssertError((int Status, JsonElement Body) answer, int status, int code)
    {
        Assert.True(answer.Status == status, $"expected HTTP {status}, got {answer.Status}: {answer.Body}");
        Assert.Equal(code, answer.Body.GetProperty("error_code").GetInt32());
        Assert.False(string.IsNullOrEmpty(answer.Body.GetProperty("message").GetString()));
        Assert.Equal(["error_code", "message"], answer.Body.EnumerateObject().Select(p => p.Name).Order());
    }

    private static Dictionary<string, object?> Merge(Dictionary<string, object?> body, object? extra)
    {
        foreach (var property in extra?.GetType().GetProperties() ?? [])
        {
            body[property.Name] = property.GetValue(extra);
        }
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
    }
}
