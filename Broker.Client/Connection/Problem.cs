using System.Text.Json;

namespace Broker.Client.Connection;

/// <summary>What a refusal said: a problem details' <c>detail</c> (or Confluent's <c>message</c>), else the body, bounded.</summary>
internal static class Problem
{
    private const int MaxBody = 4096;

    public static async Task<string> DetailAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (body.Length > MaxBody)
        {
            body = body[..MaxBody];
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            foreach (var name in new[] { "detail", "message", "title" })
            {
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
                {
                    return text.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
        }
        return body.Length > 0 ? body : response.ReasonPhrase ?? "no detail";
    }
}
