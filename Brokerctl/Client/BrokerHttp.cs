using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Broker.Ctl.Client;

/// <summary>
/// Calls a service's REST API: JSON in, JSON out. A refusal becomes a <see cref="CtlException"/> with the service's
/// own words (problem details' title and detail, field errors, or Confluent's <c>message</c>; 401 and 403 said as
/// <see cref="Refusals"/> says them); an unreachable service says which and where. Made by
/// <see cref="BrokerConnection.Http"/>, over its handler chain.
/// </summary>
public sealed class BrokerHttp(string service, Uri baseUrl, HttpMessageHandler handler, Func<string> tlsHint) : IDisposable
{
    private readonly HttpClient _http = new(handler, disposeHandler: true) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };

    public string BaseUrl => _http.BaseAddress!.ToString();

    public Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonElement> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    public Task<JsonElement> PostAsync(string path, object body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<JsonElement> PutAsync(string path, object body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Put, path, body, cancellationToken);

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken, string? contentType = null)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: JsonDefaults.Options);
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = new(contentType);
            }
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex) when (ex.InnerException is System.Security.Authentication.AuthenticationException tls)
        {
            throw new CtlException($"Cannot reach {service} at {BaseUrl} over TLS: {tls.Message} ({tlsHint()})", 3);
        }
        catch (HttpRequestException ex)
        {
            throw new CtlException($"Cannot reach {service} at {BaseUrl}: {ex.Message}. Is the broker running (dotnet run --project AppHost)?", 3);
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw Refusals.NotAuthenticated(Message(text, service));
            }
            if (response.StatusCode == HttpStatusCode.Forbidden)
            {
                throw Refusals.NotAllowed(Message(text, service));
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new CtlException($"{service} answered {(int)response.StatusCode} {response.ReasonPhrase}: {Explain(text)}",
                    response.StatusCode == HttpStatusCode.BadRequest ? 2 : 1);
            }
            if (string.IsNullOrWhiteSpace(text))
            {
                return default;
            }
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
    }

    /// <summary>A refusal's one message: problem details' <c>detail</c>, or Confluent's <c>message</c>, else the title or the body.</summary>
    private static string Message(string body, string service)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var name in new[] { "detail", "message", "title" })
                {
                    if (document.RootElement.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text)
                    {
                        return text;
                    }
                }
            }
        }
        catch (JsonException)
        {
        }
        return string.IsNullOrWhiteSpace(body) ? $"{service} gave no reason" : body.Length > 500 ? body[..500] : body;
    }

    /// <summary>The service's explanation: problem details (title, detail, field errors) or Confluent's error body.</summary>
    private static string Explain(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return body;
            }
            var parts = new StringBuilder();
            foreach (var name in new[] { "title", "detail", "message" })
            {
                if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    parts.Append(parts.Length > 0 ? " " : "").Append(value.GetString());
                }
            }
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in errors.EnumerateObject())
                {
                    parts.Append($" [{field.Name}] ").AppendJoin(" ", field.Value.EnumerateArray().Select(e => e.GetString()));
                }
            }
            if (root.TryGetProperty("error_code", out var code))
            {
                parts.Append($" (error_code {code})");
            }
            return parts.Length > 0 ? parts.ToString() : body;
        }
        catch (JsonException)
        {
            return body.Length > 500 ? body[..500] : body;
        }
    }

    public void Dispose() => _http.Dispose();
}

public static class JsonDefaults
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // Printed for people and scripts alike: quotes and non-ASCII text stay readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };
}
