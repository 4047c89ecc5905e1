using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using SchemaRegistry.Registry;
using SchemaRegistry.Storage;

namespace SchemaRegistry.Apis;

/// <summary>
/// Confluent's HTTP conventions: requests in any of its content types (or none) read as JSON, responses in
/// the type the Accept header picks (<c>application/vnd.schemaregistry.v1+json</c> by default), and every error, the framework's too (bad JSON, unknown
/// route, wrong method, wrong content type), as exactly <c>{"error_code","message"}</c>.
/// </summary>
internal static class RegistryHttp
{
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    private static readonly string[] s_accepted =
        ["application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json", "application/json", "application/octet-stream"];

    // What responses can be sent as, with Confluent's weights: a client's Accept picks among them.
    private static readonly (string Type, double Weight)[] s_produced =
        [("application/vnd.schemaregistry.v1+json", 1.0), ("application/vnd.schemaregistry+json", 0.9), ("application/json", 0.5)];

    private const string ResponseTypeItem = "registry.response-type";

    /// <summary>
    /// The response type for the request's Accept header: the client's preference first, then Confluent's
    /// weights; null when the client accepts none of them (406).
    /// </summary>
    public static string? Negotiate(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0)
        {
            return ContentType;
        }
        string? best = null;
        (double Client, double Server) bestScore = (0, 0);
        foreach (var range in accept)
        {
            var quality = range.Quality ?? 1.0;
            foreach (var (type, weight) in s_produced)
            {
                if (quality > 0 && Matches(range.MediaType.Value, type)
                    && (quality > bestScore.Client || (quality == bestScore.Client && weight > bestScore.Server)))
                {
                    (best, bestScore) = (type, (quality, weight));
                }
            }
        }
        return best;
    }

    /// <summary>An Accept range (exact, "application/*" or "*/*") covers the type; no suffix matching (v1+json is not json).</summary>
    private static bool Matches(string? range, string type) =>
        range is not null && (range == "*/*"
            || string.Equals(range, type, StringComparison.OrdinalIgnoreCase)
            || (range.EndsWith("/*", StringComparison.Ordinal) && type.StartsWith(range[..^1], StringComparison.OrdinalIgnoreCase)));

    /// <summary>The type this request's responses are written as (set by <see cref="RegistryErrors"/>).</summary>
    public static string ResponseType(HttpContext context) => context.Items[ResponseTypeItem] as string ?? ContentType;

    public static void SetResponseType(HttpContext context, string type) => context.Items[ResponseTypeItem] = type;

    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken) where T : class
    {
        var mediaType = request.ContentType?.Split(';')[0].Trim();
        if (!string.IsNullOrEmpty(mediaType) && !s_accepted.Contains(mediaType, StringComparer.OrdinalIgnoreCase))
        {
            throw new RegistryException(415, 415, "HTTP 415 Unsupported Media Type");
        }
        try
        {
            return await JsonSerializer.DeserializeAsync(request.Body, type, cancellationToken)
                ?? throw new RegistryException(400, 400, "The request body is empty or null.");
        }
        catch (JsonException ex)
        {
            throw new RegistryException(400, 400, $"The request body is not valid JSON: {ex.Message}");
        }
    }

    public static IResult Json<T>(T value, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK) => new JsonBody<T>(value, type, status);

    /// <summary>A schema's text as it is stored, unescaped (the /schema endpoints).</summary>
    public static IResult Raw(string schema) => new RawBody(schema);

    public static Task WriteErrorAsync(HttpContext context, int status, int errorCode, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = ResponseType(context);
        return JsonSerializer.SerializeAsync(context.Response.Body, new ErrorBody(errorCode, message), RegistryJsonContext.Relaxed.ErrorBody);
    }

    public static bool Flag(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var value) && bool.TryParse(value, out var on) && on;

    private sealed class JsonBody<T>(T value, JsonTypeInfo<T> type, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = ResponseType(httpContext);
            return JsonSerializer.SerializeAsync(httpContext.Response.Body, value, type, httpContext.RequestAborted);
        }
    }

    private sealed class RawBody(string text) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status200OK;
            httpContext.Response.ContentType = ResponseType(httpContext);
            return httpContext.Response.WriteAsync(text, httpContext.RequestAborted);
        }
    }
}

/// <summary>
/// Turns refusals into Confluent error bodies, and fills the body of framework answers that have none (404
/// for an unknown route, 405) the same way. Failures are 500s with Confluent's code and a fixed message: 50001
/// "Error in the backend data store" when the store failed, 50002 "Operation timed out" when it did not answer
/// in time, 500 "Internal Server Error" for anything else. What failed (exception, endpoint, client internals)
/// goes to the log only, never into the answer.
/// </summary>
internal sealed class RegistryErrors(RequestDelegate next, ILogger<RegistryErrors> logger, IOptions<SchemaRegistryOptions> options)
{
    /// <summary>
    /// The largest body a request may carry: a schema of SchemaRegistry:MaxSchemaBytes however its client escapes it
    /// in JSON (" for a quote is 6 bytes), and the rest of the request. A larger one is refused before it is read.
    /// </summary>
    private readonly long _maxBodyBytes = (6L * options.Value.MaxSchemaBytes) + (64 * 1024);

    public async Task InvokeAsync(HttpContext context)
    {
        if (ServiceDefaultsExtensions.IsInfrastructurePath(context.Request.Path))
        {
            await next(context);
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _maxBodyBytes;
        }
        if (RegistryHttp.Negotiate(context.Request) is not { } responseType)
        {
            await RegistryHttp.WriteErrorAsync(context, 406, 406, "HTTP 406 Not Acceptable");
            return;
        }
        RegistryHttp.SetResponseType(context, responseType);
        try
        {
            await next(context);
            if (context.Response is { StatusCode: >= 400, HasStarted: false, ContentLength: null or 0 } && context.Response.Headers.ContentType.Count == 0)
            {
                var status = context.Response.StatusCode;
                await RegistryHttp.WriteErrorAsync(context, status, status, $"HTTP {status} {ReasonPhrase(status)}");
            }
        }
        catch (RegistryException ex) when (!context.Response.HasStarted)
        {
            await RegistryHttp.WriteErrorAsync(context, ex.Status, ex.ErrorCode, ex.Message);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted && ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await RegistryHttp.WriteErrorAsync(context, ex.StatusCode, ex.StatusCode,
                $"The request body is larger than {_maxBodyBytes} bytes, the most a schema of SchemaRegistry:MaxSchemaBytes ({options.Value.MaxSchemaBytes}) takes as JSON.");
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await RegistryHttp.WriteErrorAsync(context, ex.StatusCode, ex.StatusCode, ex.Message);
        }
        catch (SchemaStoreException ex) when (!context.Response.HasStarted)
        {
            if (ex.TimedOut)
            {
                RegistryLog.StoreTimedOut(logger, context.Request.Method, context.Request.Path, ex.InnerException ?? ex);
                await RegistryHttp.WriteErrorAsync(context, 500, OperationTimedOut.Code, OperationTimedOut.Message);
            }
            else
            {
                RegistryLog.StoreFailed(logger, context.Request.Method, context.Request.Path, ex.InnerException ?? ex);
                await RegistryHttp.WriteErrorAsync(context, 500, BackendStoreError.Code, BackendStoreError.Message);
            }
        }
        catch (TimeoutException ex) when (!context.Response.HasStarted)
        {
            RegistryLog.Failed(logger, context.Request.Method, context.Request.Path, ex);
            await RegistryHttp.WriteErrorAsync(context, 500, OperationTimedOut.Code, OperationTimedOut.Message);
        }
        catch (Exception ex) when (!context.Response.HasStarted && ex is not OperationCanceledException)
        {
            RegistryLog.Failed(logger, context.Request.Method, context.Request.Path, ex);
            await RegistryHttp.WriteErrorAsync(context, 500, 500, "Internal Server Error");
        }
    }

    /// <summary>Confluent's answer when the store fails.</summary>
    public static readonly (int Code, string Message) BackendStoreError = (50001, "Error in the backend data store");

    /// <summary>Confluent's answer when the store does not answer in time.</summary>
    public static readonly (int Code, string Message) OperationTimedOut = (50002, "Operation timed out");

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";
}

public sealed record ErrorBody(
    [property: JsonPropertyName("error_code")] int ErrorCode,
    [property: JsonPropertyName("message")] string Message);

/// <summary>The body of a register, lookup or compatibility request; newer clients' fields (metadata, ruleSet) are accepted and ignored.</summary>
public sealed record SchemaRequest(
    [property: JsonPropertyName("schema")] string? Schema,
    [property: JsonPropertyName("schemaType")] string? SchemaType,
    [property: JsonPropertyName("references")] IReadOnlyList<SchemaReference>? References,
    [property: JsonPropertyName("id")] int? Id,
    [property: JsonPropertyName("version")] int? Version)
{
    public SchemaInput ToInput() => new(Schema, SchemaType, References, Id, Version);
}

public sealed record IdResponse([property: JsonPropertyName("id")] int Id);

/// <summary>A schema, with what the endpoint knows of it; schemaType is left out for AVRO, as Confluent 7.x does.</summary>
public sealed record SchemaResponse(
    [property: JsonPropertyName("subject"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Subject,
    [property: JsonPropertyName("version"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Version,
    [property: JsonPropertyName("id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Id,
    [property: JsonPropertyName("schemaType"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SchemaType,
    [property: JsonPropertyName("schema")] string Schema)
{
    public static SchemaResponse From(SubjectVersion v) => new(v.Subject, v.Version, v.Id, TypeField(v.SchemaType), v.Schema);

    public static string? TypeField(string schemaType) => schemaType == SchemaRegistryService.Avro ? null : schemaType;
}

public sealed record SubjectVersionRef([property: JsonPropertyName("subject")] string Subject, [property: JsonPropertyName("version")] int Version);

/// <summary>PUT /config: a level, normalize, or both (newer clients' other keys are accepted and ignored); echoed as set.</summary>
public sealed record ConfigRequest(
    [property: JsonPropertyName("compatibility"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Compatibility,
    [property: JsonPropertyName("normalize"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Normalize);

/// <summary>GET and DELETE /config: what is set (Confluent leaves out what is not).</summary>
public sealed record ConfigResponse(
    [property: JsonPropertyName("compatibilityLevel"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CompatibilityLevel,
    [property: JsonPropertyName("normalize"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Normalize)
{
    public static ConfigResponse From(RegistryConfig config) => new(config.CompatibilityLevel, config.Normalize);
}

public sealed record ModeBody([property: JsonPropertyName("mode")] string? Mode);

public sealed record CompatibilityResponse(
    [property: JsonPropertyName("is_compatible")] bool IsCompatible,
    [property: JsonPropertyName("messages"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Messages);

[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(SchemaRequest))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(SchemaResponse))]
[JsonSerializable(typeof(IReadOnlyList<SchemaResponse>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(IReadOnlyList<int>))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(IReadOnlyList<SubjectVersionRef>))]
[JsonSerializable(typeof(ConfigRequest))]
[JsonSerializable(typeof(ConfigResponse))]
[JsonSerializable(typeof(ModeBody))]
[JsonSerializable(typeof(CompatibilityResponse))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext
{
    /// <summary>The context the API writes with: quotes in schema text escaped as \" (as Confluent writes them), not \u0022.</summary>
    public static RegistryJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
