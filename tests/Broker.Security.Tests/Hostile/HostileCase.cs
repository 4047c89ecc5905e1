using System.Globalization;
using System.Text.Json;
using Grpc.Core;

namespace Broker.Security.Tests.Hostile;

/// <summary>Whose error shape an answer is in: our REST paths' problem details, the registry's Confluent body, or a gRPC status.</summary>
public enum AnswerShape
{
    Problem,
    Registry,
    Grpc,
}

/// <summary>What a hostile request came to: an HTTP status with its body, or a gRPC status with its detail.</summary>
public sealed record Answer(AnswerShape Shape, int Code, string? MediaType, string Body)
{
    public static Answer Grpc(StatusCode status, string detail) => new(AnswerShape.Grpc, (int)status, null, detail);

    public override string ToString() => Shape == AnswerShape.Grpc
        ? $"gRPC {(StatusCode)Code}: {Clip(Body)}"
        : $"HTTP {Code.ToString(CultureInfo.InvariantCulture)} {MediaType}: {Clip(Body)}";

    private static string Clip(string text) => text.Length > 300 ? text[..300] + $"… ({text.Length} chars)" : text;
}

/// <summary>
/// One hostile request and what its refusal must be. <paramref name="Statuses"/>, when given, are the only HTTP statuses
/// (or gRPC status codes) that count. <paramref name="ServerLevel"/>: Kestrel refuses it before any of our code runs (a
/// request line or headers past its limits), so the status is the whole answer.
/// </summary>
public sealed record HostileCase(string Name, Func<Task<Answer>> Send, int[]? Statuses = null, bool ServerLevel = false)
{
    /// <summary>Larger than any honest refusal needs: a refusal that echoes what it refuses is not bounded by it.</summary>
    public const int MaxRefusalChars = 64 * 1024;

    private static readonly StatusCode[] s_clearGrpc =
        [StatusCode.InvalidArgument, StatusCode.OutOfRange, StatusCode.NotFound, StatusCode.ResourceExhausted, StatusCode.FailedPrecondition];

    /// <summary>Why <paramref name="answer"/> is not a clear refusal of this case, or null when it is.</summary>
    public string? Fault(Answer answer)
    {
        if (answer.Body.Length > MaxRefusalChars)
        {
            return $"the refusal is {answer.Body.Length} characters long (at most {MaxRefusalChars}): it echoes what it refuses";
        }
        if (answer.Shape == AnswerShape.Grpc)
        {
            var status = (StatusCode)answer.Code;
            if (!s_clearGrpc.Contains(status) || (Statuses is { } codes && !codes.Contains(answer.Code)))
            {
                return $"expected {Expected(Statuses?.Select(c => ((StatusCode)c).ToString()) ?? s_clearGrpc.Select(s => s.ToString()))}";
            }
            return string.IsNullOrWhiteSpace(answer.Body) ? "the status has no detail saying what is wrong" : null;
        }
        if (answer.Code is < 400 or > 499 || answer.Code is 401 or 403 || (Statuses is { } statuses && !statuses.Contains(answer.Code)))
        {
            return $"expected {Expected(Statuses?.Select(s => s.ToString(CultureInfo.InvariantCulture)) ?? ["a 4xx other than 401 and 403 (the caller is a superuser)"])}";
        }
        return ServerLevel ? null : answer.Shape == AnswerShape.Registry ? RegistryFault(answer) : ProblemFault(answer);
    }

    private static string Expected(IEnumerable<string> what) => "one of " + string.Join(", ", what);

    /// <summary>Problem details (RFC 7807) whose detail or errors say what is wrong.</summary>
    private static string? ProblemFault(Answer answer)
    {
        if (answer.MediaType != "application/problem+json")
        {
            return $"the body is {answer.MediaType ?? "untyped"}, not problem details";
        }
        var problem = Parse(answer.Body);
        if (problem is not { ValueKind: JsonValueKind.Object } p)
        {
            return "the body is not a JSON object";
        }
        var detail = p.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(d.GetString());
        var errors = p.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object
            && e.EnumerateObject().Any(field => field.Value.ValueKind == JsonValueKind.Array && field.Value.EnumerateArray().Any(m => !string.IsNullOrWhiteSpace(m.GetString())));
        return detail || errors ? null : "the problem has neither a detail nor errors saying what is wrong";
    }

    /// <summary>Confluent's {"error_code", "message"}.</summary>
    private static string? RegistryFault(Answer answer)
    {
        if (Parse(answer.Body) is not { ValueKind: JsonValueKind.Object } body
            || !body.TryGetProperty("error_code", out var code) || code.ValueKind != JsonValueKind.Number
            || !body.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.String)
        {
            return "the body is not Confluent's {\"error_code\", \"message\"}";
        }
        return string.IsNullOrWhiteSpace(message.GetString()) ? "the message is empty" : null;
    }

    private static JsonElement? Parse(string text)
    {
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
