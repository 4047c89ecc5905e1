using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Broker.Contracts.Dapr;
using Broker.Delivery.Outbound;

namespace Broker.Delivery.Dapr;

/// <summary>
/// An app over HTTP, as daprd calls it: <c>GET /dapr/subscribe</c> (404: no subscriptions), a <c>POST</c> of
/// <c>application/cloudevents+json</c> per event, and for bulk subscriptions one POST of
/// <c>{id, type, topic, pubsubname, metadata, entries}</c> answered by <c>{statuses:[{entryId, status}]}</c>.
/// A 2xx answer with no body, an empty status or a body that is not JSON is success; 404 is drop; any other
/// status (a 3xx too: redirects are never followed) or a transport error is a retry. Answers are read up to
/// Delivery:Outbound:MaxResponseBytes and no further; a longer one is a failure.
/// </summary>
internal sealed class HttpAppChannel(DaprApp app, HttpClient http, OutboundPolicy policy) : AppChannel
{
    private static readonly MediaTypeHeaderValue s_cloudEvent = new(CloudEventEnvelope.ContentType);
    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    public override async Task<IReadOnlyList<AppSubscription>> DiscoverAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Join(app.Url, "dapr/subscribe"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new OutboundException(OutboundErrors.Refused((int)response.StatusCode));
        }
        var body = await BoundedBody.ReadAsync(response, policy.MaxResponseBytes, "GET /dapr/subscribe", cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(body);
            return AppSubscription.ParseHttp(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new OutboundException("the answer to GET /dapr/subscribe is not JSON", ex);
        }
        catch (FormatException ex)
        {
            throw new OutboundException($"the answer to GET /dapr/subscribe is not a subscription list: {ex.Message}", ex);
        }
    }

    public override async Task<AppAnswer> DeliverAsync(AppEvent appEvent, string path, AppSubscription subscription, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Join(app.Url, path))
        {
            Content = new ReadOnlyMemoryContent(appEvent.CloudEvent) { Headers = { ContentType = s_cloudEvent } },
        };
        AddTrace(request, appEvent);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return new AppAnswer(AppStatus.Drop, $"POST {path}: {OutboundErrors.Refused(404)}");
        }
        if (!response.IsSuccessStatusCode)
        {
            return new AppAnswer(AppStatus.Retry, $"POST {path}: {OutboundErrors.Refused((int)response.StatusCode)}");
        }
        var body = await BoundedBody.ReadAsync(response, policy.MaxResponseBytes, $"POST {path}", cancellationToken);
        return FromStatusWord(StatusOf(body), $"POST {path}");
    }

    public override async Task<AppAnswer[]> DeliverBulkAsync(IReadOnlyList<AppEvent> events, string path, AppSubscription subscription, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("id", Guid.NewGuid().ToString());
            writer.WriteString("type", "com.dapr.event.sent.bulk");
            writer.WriteString("topic", subscription.Topic);
            writer.WriteString("pubsubname", subscription.PubsubName);
            writer.WriteStartObject("metadata");
            writer.WriteEndObject();
            writer.WriteStartArray("entries");
            foreach (var appEvent in events)
            {
                writer.WriteStartObject();
                writer.WriteString("entryId", appEvent.EntryId);
                writer.WritePropertyName("event");
                // Always a JSON object: CloudEventEnvelope.AsEnvelope checked or wrapped it.
                writer.WriteRawValue(appEvent.CloudEvent.Span, skipInputValidation: true);
                writer.WriteStartObject("metadata");
                writer.WriteEndObject();
                writer.WriteString("contentType", CloudEventEnvelope.ContentType);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, Join(app.Url, path))
        {
            Content = new ReadOnlyMemoryContent(body.GetBuffer().AsMemory(0, (int)body.Length)) { Headers = { ContentType = s_json } },
        };
        AddTrace(request, events[0]);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return All(events, new AppAnswer(AppStatus.Drop, $"bulk POST {path}: {OutboundErrors.Refused(404)}"));
        }
        if (!response.IsSuccessStatusCode)
        {
            return All(events, new AppAnswer(AppStatus.Retry, $"bulk POST {path}: {OutboundErrors.Refused((int)response.StatusCode)}"));
        }
        var answer = await BoundedBody.ReadAsync(response, policy.MaxResponseBytes, $"bulk POST {path}", cancellationToken);
        var statuses = new Dictionary<string, string?>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(answer);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("statuses", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in list.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("entryId", out var id) && id.ValueKind == JsonValueKind.String)
                    {
                        statuses[id.GetString()!] = entry.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String ? status.GetString() : null;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // No statuses at all: every entry is missing one.
        }
        var answers = new AppAnswer[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            answers[i] = statuses.TryGetValue(events[i].EntryId, out var status) && !string.IsNullOrEmpty(status)
                ? FromStatusWord(status, $"bulk POST {path}")
                : new AppAnswer(AppStatus.Retry, $"bulk POST {path} gave no status for the entry");
        }
        return answers;
    }

    private static AppAnswer[] All(IReadOnlyList<AppEvent> events, AppAnswer answer) => [.. Enumerable.Repeat(answer, events.Count)];

    /// <summary>The delivery's trace goes with the call: HttpClient's own span carries it when one is current, else the record's.</summary>
    private static void AddTrace(HttpRequestMessage request, AppEvent appEvent)
    {
        if (Activity.Current is null && appEvent.TraceParent is { } traceParent)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceParent);
            if (appEvent.TraceState is { } traceState)
            {
                request.Headers.TryAddWithoutValidation("tracestate", traceState);
            }
        }
    }

    private static string? StatusOf(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String
                ? status.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null; // daprd takes an answer it cannot read as success
        }
    }
}
