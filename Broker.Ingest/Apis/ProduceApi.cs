using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Broker.Contracts.Batches;
using Broker.Ingest.Producing;
using Broker.Ingest.Schemas;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Broker.Ingest.Apis;

/// <summary>
/// REST produce: POST /v1/topics/{topic}/records with a JSON body of records, or with
/// Content-Type: application/octet-stream for one binary record (key in X-Record-Key, partition in
/// X-Record-Partition, headers as X-Record-Header-{name}). Idempotency-Key makes a retry answer the first
/// attempt's offsets. Errors are RFC 7807 problem details; 429 and 503 carry Retry-After.
/// </summary>
public static class ProduceApi
{
    public const string KeyHeader = "X-Record-Key";
    public const string PartitionHeader = "X-Record-Partition";
    public const string RecordHeaderPrefix = "X-Record-Header-";
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    public static RouteGroupBuilder MapProduceApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/topics").WithTags("Produce");
        api.MapPost("/{topic}/records", ProduceRecords).WithName("ProduceRecords").ChecksAclsInHandler("write on topic {topic} (ProduceGate), and the produce quota");
        return api;
    }

    public static async Task<Results<Ok<ProduceHttpResponse>, ProblemHttpResult>> ProduceRecords(
        string topic, HttpContext context, Producer producer, ProduceGate gate, SchemaEnforcer schemas, IOptions<IngestOptions> options, CancellationToken cancellationToken)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.Value.MaxRequestBytes;
        }
        try
        {
            gate.Admit(context.User, topic);
            var records = IsBinary(context.Request)
                ? [await ReadBinaryRecord(context.Request, cancellationToken)]
                : await ReadJsonRecords(context.Request, schemas, cancellationToken);
            gate.Charge(context.User, records);
            var identity = context.Request.Headers[IdempotencyKeyHeader] is [{ Length: > 0 } key]
                ? Producer.IdentityForKey(topic, key)
                : null;
            var offsets = await producer.ProduceAsync(topic, records, identity, "http", cancellationToken);
            return TypedResults.Ok(new ProduceHttpResponse([.. offsets.Select(o => new HttpOffset(o.Partition, o.Offset))]));
        }
        catch (ProduceException ex)
        {
            return Problem(context, ex, options.Value);
        }
    }

    private static bool IsBinary(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase);

    private static async Task<OutgoingRecord[]> ReadJsonRecords(HttpRequest request, SchemaEnforcer schemas, CancellationToken cancellationToken)
    {
        ProduceHttpRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, IngestJsonContext.Default.ProduceHttpRequest, cancellationToken);
        }
        catch (JsonException ex)
        {
            throw new ProduceException(ProduceError.InvalidArgument, $"The body is not valid JSON for a produce request: {ex.Message}", ex);
        }
        if (body?.Records is not { } records)
        {
            throw new ProduceException(ProduceError.InvalidArgument, "The body needs a \"records\" array.");
        }
        var result = new OutgoingRecord[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            result[i] = await ToRecord(records[i], body.ValueSchemaId, schemas, i, cancellationToken);
        }
        return result;
    }

    private static async ValueTask<OutgoingRecord> ToRecord(
        ProduceHttpRecord? record, int? requestSchemaId, SchemaEnforcer schemas, int index, CancellationToken cancellationToken)
    {
        if (record is null)
        {
            throw new ProduceException(ProduceError.InvalidArgument, $"Record {index} is null.");
        }
        var hasValue = record.Value is { ValueKind: not JsonValueKind.Undefined };
        if (hasValue && record.ValueBase64 is not null)
        {
            throw new ProduceException(ProduceError.InvalidArgument, $"Record {index} has both \"value\" and \"valueBase64\"; give one.");
        }
        var schemaId = record.ValueSchemaId ?? requestSchemaId;
        if (schemaId is not null && !hasValue)
        {
            throw new ProduceException(ProduceError.InvalidArgument,
                $"Record {index} names a valueSchemaId: its \"value\" is the JSON to encode with that schema (\"valueBase64\" is sent as it is).");
        }
        ReadOnlyMemory<byte> value;
        if (schemaId is { } id)
        {
            // The Confluent REST proxy's convenience: JSON in, Avro in the wire format out. The topic's check follows.
            value = await schemas.EncodeAsync(id, record.Value!.Value, subject: null, index, cancellationToken);
        }
        else if (record.ValueBase64 is { } base64)
        {
            try
            {
                value = Convert.FromBase64String(base64);
            }
            catch (FormatException)
            {
                throw new ProduceException(ProduceError.InvalidArgument, $"Record {index}'s \"valueBase64\" is not valid base64.");
            }
        }
        else if (hasValue)
        {
            // A JSON value is stored as its JSON text, exactly as sent.
            value = Encoding.UTF8.GetBytes(record.Value!.Value.GetRawText());
        }
        else
        {
            throw new ProduceException(ProduceError.InvalidArgument, $"Record {index} needs \"value\" (JSON) or \"valueBase64\".");
        }
        RecordHeader[] headers = record.Headers is { Count: > 0 } h
            ? [.. h.Select(kv => new RecordHeader(kv.Key, Encoding.UTF8.GetBytes(kv.Value ?? "")))]
            : [];
        return new OutgoingRecord(
            OutgoingRecord.KeyOf(record.Key is null ? null : Encoding.UTF8.GetBytes(record.Key)),
            value, headers, record.Partition, Timestamp: null);
    }

    private static async Task<OutgoingRecord> ReadBinaryRecord(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        int? partition = null;
        if (request.Headers[PartitionHeader] is [{ } p])
        {
            partition = int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new ProduceException(ProduceError.InvalidArgument, $"{PartitionHeader} must be a partition number; got '{p}'.");
        }
        var headers = new List<RecordHeader>();
        foreach (var (name, values) in request.Headers)
        {
            if (name.StartsWith(RecordHeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(new RecordHeader(name[RecordHeaderPrefix.Length..], Encoding.UTF8.GetBytes(values.ToString())));
            }
        }
        var key = request.Headers[KeyHeader] is [{ } k] ? Encoding.UTF8.GetBytes(k) : null;
        return new OutgoingRecord(OutgoingRecord.KeyOf(key), buffer.ToArray(), headers, partition, Timestamp: null);
    }

    private static ProblemHttpResult Problem(HttpContext context, ProduceException ex, IngestOptions options)
    {
        var (status, title) = ex.Error switch
        {
            ProduceError.TopicNotFound => (StatusCodes.Status404NotFound, "Topic not found."),
            ProduceError.RequestTooLarge => (StatusCodes.Status413PayloadTooLarge, "The produce request is too large."),
            ProduceError.Backpressure => (StatusCodes.Status429TooManyRequests, "Ingest is busy; retry later."),
            ProduceError.OutOfOrderSequence => (StatusCodes.Status409Conflict, "Producer sequence out of order."),
            ProduceError.Unavailable => (StatusCodes.Status503ServiceUnavailable, "Storage is unavailable; retry later."),
            ProduceError.Forbidden => (StatusCodes.Status403Forbidden, "Not allowed."),
            ProduceError.OverQuota => (StatusCodes.Status429TooManyRequests, "Over quota."),
            _ => (StatusCodes.Status400BadRequest, "The produce request is not valid."),
        };
        if (status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
        {
            var seconds = ex.RetryAfter is { } after ? (int)Math.Ceiling(after.TotalSeconds) : options.RetryAfterSeconds;
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        return TypedResults.Problem(ex.Message, statusCode: status, title: title);
    }
}

/// <summary>A JSON produce request; <c>valueSchemaId</c> (here or per record) encodes JSON values to Avro with that registered schema.</summary>
public sealed record ProduceHttpRequest(IReadOnlyList<ProduceHttpRecord?>? Records, int? ValueSchemaId = null);

public sealed record ProduceHttpRecord(
    string? Key,
    JsonElement? Value,
    string? ValueBase64,
    Dictionary<string, string?>? Headers,
    int? Partition,
    int? ValueSchemaId = null);

public sealed record ProduceHttpResponse(IReadOnlyList<HttpOffset> Offsets);

public sealed record HttpOffset(int Partition, long Offset);

// Numbers strict, as on every other REST path: a partition of "1" is the wrong type, not partition 1.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ProduceHttpRequest))]
[JsonSerializable(typeof(ProduceHttpResponse))]
internal sealed partial class IngestJsonContext : JsonSerializerContext;
