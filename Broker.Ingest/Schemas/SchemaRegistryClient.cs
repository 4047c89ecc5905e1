using System.Net;
using System.Text.Json;
using Broker.Schemas.Avro;

namespace Broker.Ingest.Schemas;

/// <summary>The two questions Ingest asks the schema registry (found through service discovery, "schemaregistry").</summary>
public sealed class SchemaRegistryClient(IHttpClientFactory clients)
{
    public const string ClientName = "schemaregistry";

    private HttpClient Http => clients.CreateClient(ClientName);

    /// <summary>The schema with this id, or null when the registry has none.</summary>
    public async Task<AvroSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(new Uri($"/schemas/ids/{id}", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        if (body.RootElement.TryGetProperty("schemaType", out var type) && type.GetString() != "AVRO")
        {
            return null; // Only Avro is enforced; another type counts as unknown here.
        }
        // Admitted by the registry already (within its limits when it was registered): parsed without limits of our own.
        return AvroCanonicalForm.Parse(body.RootElement.GetProperty("schema").GetString()!, AvroSchemaLimits.None);
    }

    /// <summary>Whether a live version of <paramref name="subject"/> has schema <paramref name="id"/>.</summary>
    public async Task<bool> IsRegisteredUnderAsync(int id, string subject, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(new Uri($"/schemas/ids/{id}/versions", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        response.EnsureSuccessStatusCode();
        var versions = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return versions.EnumerateArray().Any(v => v.GetProperty("subject").GetString() == subject);
    }
}
