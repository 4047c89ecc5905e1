using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Broker.Contracts.Dapr;

/// <summary>
/// Wraps published data in a CloudEvent the way daprd does (components-contrib's pubsub envelope): id, source,
/// type <c>com.dapr.event.sent</c>, specversion 1.0, datacontenttype, topic, pubsubname, trace fields, time,
/// and the data as JSON (JSON content), as a string (text) or as <c>data_base64</c> (anything else); an
/// <c>expiration</c> when the publish has a time-to-live. A publisher that sends a CloudEvent already
/// (<c>application/cloudevents+json</c>) keeps it, with the missing fields filled in.
/// <c>cloudevent.id|source|type|traceparent|tracestate|subject</c> metadata overrides those fields.
/// </summary>
public static class CloudEventEnvelope
{
    public const string ContentType = "application/cloudevents+json";
    public const string EventType = "com.dapr.event.sent";

    private static readonly string[] s_overridable = ["id", "source", "type", "traceparent", "tracestate", "subject"];

    public static byte[] Wrap(ReadOnlySpan<byte> data, string? contentType, string topic, string pubsubName, IReadOnlyDictionary<string, string> metadata,
        string source, DateTimeOffset now, TimeSpan? ttl, Activity? activity)
    {
        contentType = string.IsNullOrEmpty(contentType) ? "text/plain" : contentType;
        var output = new ArrayBufferWriter<byte>(data.Length + 512);
        using (var writer = new Utf8JsonWriter(output))
        {
            var given = IsCloudEvent(contentType) ? TryParseObject(data) : null;
            writer.WriteStartObject();
            var written = new HashSet<string>(StringComparer.Ordinal);
            void String(string name, string? value)
            {
                if (value is not null && written.Add(name))
                {
                    writer.WriteString(name, value);
                }
            }
            // The publisher's own fields first (they win), then overrides, then the defaults.
            foreach (var name in s_overridable)
            {
                if (metadata.TryGetValue("cloudevent." + name, out var value))
                {
                    String(name, value);
                }
            }
            if (given is { } existing)
            {
                foreach (var property in existing.RootElement.EnumerateObject())
                {
                    if (written.Add(property.Name))
                    {
                        property.WriteTo(writer);
                    }
                }
            }
            var traceParent = activity is null ? null : $"00-{activity.TraceId}-{activity.SpanId}-{(activity.Recorded ? "01" : "00")}";
            String("specversion", "1.0");
            String("id", Guid.NewGuid().ToString());
            String("source", source);
            String("type", EventType);
            String("topic", topic);
            String("pubsubname", pubsubName);
            String("traceid", traceParent);
            String("traceparent", traceParent);
            String("tracestate", activity?.TraceStateString);
            String("time", now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
            if (ttl is { } t)
            {
                String("expiration", (now + t).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
            }
            if (given is null)
            {
                String("datacontenttype", contentType);
                WriteData(writer, data, contentType);
            }
            writer.WriteEndObject();
            given?.Dispose();
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The record as a CloudEvent: as it is when it is one already (what Dapr publishes store), else wrapped the
    /// way daprd wraps a raw payload for a subscriber (data from the bytes, as JSON, text or base64).
    /// </summary>
    public static ReadOnlyMemory<byte> AsEnvelope(ReadOnlyMemory<byte> value, string topic, string pubsubName, string source, DateTimeOffset time,
        string? traceParent) =>
        IsEnvelope(value.Span)
            ? value
            : Wrap(value.Span, IsOneJsonValue(value.Span) ? "application/json" : Utf8.IsValid(value.Span) ? "text/plain" : "application/octet-stream",
                topic, pubsubName, traceParent is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["cloudevent.traceparent"] = traceParent },
                source, time, null, null);

    /// <summary>
    /// Whether <paramref name="value"/> is a CloudEvent in JSON: one object, with a specversion among its own
    /// properties. Read without building a document (this runs for every record delivered to a Dapr app).
    /// </summary>
    public static bool IsEnvelope(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || value[0] != (byte)'{' || !IsOneJsonValue(value))
        {
            return false;
        }
        var reader = new Utf8JsonReader(value);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("specversion"u8))
            {
                return true;
            }
            reader.Read();
            reader.Skip();
        }
        return false;
    }

    /// <summary>One JSON value and nothing after it but whitespace, checked by reading it (no document is built).</summary>
    private static bool IsOneJsonValue(ReadOnlySpan<byte> value)
    {
        try
        {
            var reader = new Utf8JsonReader(value);
            if (!reader.Read())
            {
                return false;
            }
            reader.Skip();
            return !reader.Read(); // anything but whitespace after the value throws
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void WriteData(Utf8JsonWriter writer, ReadOnlySpan<byte> data, string contentType)
    {
        if (IsJson(contentType) && IsOneJsonValue(data))
        {
            writer.WritePropertyName("data");
            writer.WriteRawValue(data, skipInputValidation: true);
        }
        else if (contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) && Utf8.IsValid(data))
        {
            writer.WriteString("data", Encoding.UTF8.GetString(data));
        }
        else
        {
            writer.WriteBase64String("data_base64", data);
        }
    }

    private static bool IsCloudEvent(string contentType) => contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string contentType)
    {
        var media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static JsonDocument? TryParse(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!JsonDocument.TryParseValue(ref reader, out var document))
            {
                return null;
            }
            // One value and nothing after it but whitespace.
            if (data[(int)reader.BytesConsumed..].TrimStart(" \t\r\n"u8).IsEmpty)
            {
                return document;
            }
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonDocument? TryParseObject(ReadOnlySpan<byte> data)
    {
        var document = TryParse(data);
        if (document is not null && document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return null;
        }
        return document;
    }
}
