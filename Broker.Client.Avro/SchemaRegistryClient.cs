using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Client.Connection;

namespace Broker.Client.Avro;

/// <summary>
/// The registry calls the Avro serdes need, each answer cached for the client's life: a schema's id under a subject
/// (registered, or looked up when auto-registration is off) and a schema by id. Thread-safe; share one per application.
/// </summary>
public sealed class SchemaRegistryClient : IDisposable
{
    /// <summary>Most schemas kept by id, and ids kept by (subject, schema): a bound on what input can make it hold.</summary>
    private const int MaxCached = 10_000;

    private readonly BrokerConnection _connection;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<(string Subject, string Schema, bool Register), Task<int>> _ids = new();
    private readonly ConcurrentDictionary<int, Task<global::Avro.Schema>> _schemas = new();

    /// <summary>A registry client of the broker <paramref name="client"/> names (its SchemaRegistry endpoint and token).</summary>
    public SchemaRegistryClient(BrokerClientOptions client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _connection = new BrokerConnection(client);
        _http = _connection.Http(BrokerClientOptions.Required(client.SchemaRegistry, "SchemaRegistry"));
    }

    /// <summary>The id of <paramref name="schema"/> under <paramref name="subject"/>: registered when <paramref name="register"/>, else looked up.</summary>
    /// <exception cref="SchemaRegistryRefusedException">The registry refused it (incompatible, not found, not allowed).</exception>
    public Task<int> GetIdAsync(string subject, string schema, bool register, CancellationToken cancellationToken = default)
    {
        var key = (subject, schema, register);
        if (_ids.TryGetValue(key, out var known) && !known.IsFaulted && !known.IsCanceled)
        {
            return known.WaitAsync(cancellationToken);
        }
        if (_ids.Count >= MaxCached)
        {
            _ids.Clear();
        }
        // The shared fetch is not the caller's to cancel (others may wait for it); a failed one is not kept.
        var fetching = register ? RegisterAsync(subject, schema, CancellationToken.None) : LookupAsync(subject, schema, CancellationToken.None);
        _ids[key] = fetching;
        return fetching.WaitAsync(cancellationToken);
    }

    /// <summary>The schema with <paramref name="id"/>, parsed.</summary>
    /// <exception cref="SchemaRegistryRefusedException">The registry has no such id, or refused to say.</exception>
    public Task<global::Avro.Schema> GetSchemaAsync(int id, CancellationToken cancellationToken = default)
    {
        if (_schemas.TryGetValue(id, out var known) && !known.IsFaulted && !known.IsCanceled)
        {
            return known.WaitAsync(cancellationToken);
        }
        if (_schemas.Count >= MaxCached)
        {
            _schemas.Clear();
        }
        var fetching = FetchSchemaAsync(id, CancellationToken.None);
        _schemas[id] = fetching;
        return fetching.WaitAsync(cancellationToken);
    }

    /// <summary>Closes the client's connections.</summary>
    public void Dispose() => _connection.Dispose();

    private async Task<int> RegisterAsync(string subject, string schema, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync($"/subjects/{Uri.EscapeDataString(subject)}/versions", new Dictionary<string, string> { ["schema"] = schema }, cancellationToken);
        return await IdAsync(response, $"registering a schema under {subject}", cancellationToken);
    }

    private async Task<int> LookupAsync(string subject, string schema, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync($"/subjects/{Uri.EscapeDataString(subject)}", new Dictionary<string, string> { ["schema"] = schema }, cancellationToken);
        return await IdAsync(response, $"looking up the schema under {subject}", cancellationToken);
    }

    private async Task<global::Avro.Schema> FetchSchemaAsync(int id, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"/schemas/ids/{id}", cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new SchemaRegistryRefusedException($"The registry answered {(int)response.StatusCode} for schema id {id}: {await Problem.DetailAsync(response)}");
        }
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return global::Avro.Schema.Parse(json.RootElement.GetProperty("schema").GetString());
    }

    private static async Task<int> IdAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new SchemaRegistryRefusedException($"The registry answered {(int)response.StatusCode} {what}: {await Problem.DetailAsync(response)}");
        }
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return json.RootElement.GetProperty("id").GetInt32();
    }
}

/// <summary>The schema registry refused a call the Avro serdes made; the message has its words.</summary>
public sealed class SchemaRegistryRefusedException(string message) : Exception(message);
