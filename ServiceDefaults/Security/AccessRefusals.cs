using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// How a service says no to a caller (401 no valid credential, 403 no right, 503 the ACLs are not loaded, 429 over
/// quota) in its own error shape: problem details on our REST paths, Confluent's error bodies on the registry. gRPC
/// calls always get a gRPC status with the message.
/// </summary>
public interface IAccessRefusals
{
    IResult Result(HttpContext context, int statusCode, string message);
}

/// <summary>RFC 7807 problem details, our REST paths' error shape.</summary>
public sealed class ProblemDetailsRefusals : IAccessRefusals
{
    public IResult Result(HttpContext context, int statusCode, string message) =>
        TypedResults.Problem(message, statusCode: statusCode, title: Title(statusCode));

    public static string Title(int statusCode) => statusCode switch
    {
        StatusCodes.Status401Unauthorized => "Authentication required.",
        StatusCodes.Status403Forbidden => "Not allowed.",
        StatusCodes.Status429TooManyRequests => "Over quota.",
        _ => "Not available.",
    };
}

/// <summary>Refusals written straight onto a response, before any endpoint runs (authentication, gRPC).</summary>
public static class RefusalWriter
{
    public const string WwwAuthenticate = "Bearer realm=\"broker\", Basic realm=\"broker\"";

    public static bool IsGrpc(HttpContext context) =>
        context.Request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    public static StatusCode GrpcCode(int statusCode) => statusCode switch
    {
        StatusCodes.Status401Unauthorized => StatusCode.Unauthenticated,
        StatusCodes.Status403Forbidden => StatusCode.PermissionDenied,
        StatusCodes.Status429TooManyRequests => StatusCode.ResourceExhausted,
        _ => StatusCode.Unavailable,
    };

    /// <summary>A gRPC call's refusal as a trailers-only response (HTTP 200, grpc-status and grpc-message in the headers).</summary>
    public static Task WriteGrpcAsync(HttpContext context, StatusCode code, string message)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        return Task.CompletedTask;
    }

    public static async Task WriteAsync(HttpContext context, IAccessRefusals refusals, int statusCode, string message)
    {
        if (IsGrpc(context))
        {
            await WriteGrpcAsync(context, GrpcCode(statusCode), message);
            return;
        }
        if (statusCode == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = WwwAuthenticate;
        }
        await refusals.Result(context, statusCode, message).ExecuteAsync(context);
    }
}
