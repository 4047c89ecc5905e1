using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;

namespace Broker.Delivery.Outbound;

/// <summary>
/// A call Delivery refused to make (the target is not allowed) or an answer it refused to take (a status, a body
/// past the cap). Its message is safe to show to any caller: the policy's words, or what the target answered.
/// </summary>
public sealed class OutboundException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// What a caller is told about a failed call to a target (an app's <c>lastError</c>, a subscription's nack reason, a
/// replay's <c>error</c>): "refused by the target (HTTP 503)" when it answered with a status, and only "the target
/// did not answer" when it did not, whatever the reason (refused connection, timeout, reset, a name that does not
/// resolve, something that does not speak HTTP): anything more would make Delivery a port scanner. The details go to
/// the log (<see cref="OutboundLog"/>).
/// </summary>
public static partial class OutboundErrors
{
    public const string NoAnswer = "the target did not answer";

    public static string Refused(int status) => $"refused by the target (HTTP {status.ToString(CultureInfo.InvariantCulture)})";

    public static string RefusedGrpc(StatusCode status) => $"refused by the target (gRPC {status})";

    public static string TooLarge(string what, int cap) =>
        $"the answer to {what} is larger than {Size(cap)}, the most Delivery reads (Delivery:Outbound:MaxResponseBytes)";

    /// <summary>What a caller may be told about <paramref name="exception"/>.</summary>
    public static string Describe(Exception exception)
    {
        for (var e = exception; e is not null; e = Next(e))
        {
            if (e is OutboundException known)
            {
                return known.Message;
            }
        }
        return exception switch
        {
            HttpRequestException { StatusCode: { } status } => Refused((int)status),
            RpcException rpc => Describe(rpc),
            _ => NoAnswer,
        };
    }

    /// <summary>Every message of the exception and its inner ones, for the log.</summary>
    public static string Details(Exception exception)
    {
        var text = new StringBuilder();
        for (var e = exception; e is not null; e = Next(e))
        {
            if (text.Length > 0)
            {
                text.Append(" --> ");
            }
            text.Append(e.GetType().Name).Append(": ").Append(e.Message);
        }
        return text.ToString();
    }

    /// <summary>1 MiB, 64 KiB, or bytes.</summary>
    public static string Size(int bytes) => bytes switch
    {
        _ when bytes % (1024 * 1024) == 0 => $"{(bytes / (1024 * 1024)).ToString(CultureInfo.InvariantCulture)} MiB ({bytes.ToString(CultureInfo.InvariantCulture)} bytes)",
        _ when bytes % 1024 == 0 => $"{(bytes / 1024).ToString(CultureInfo.InvariantCulture)} KiB ({bytes.ToString(CultureInfo.InvariantCulture)} bytes)",
        _ => $"{bytes.ToString(CultureInfo.InvariantCulture)} bytes",
    };

    /// <summary>
    /// A gRPC failure: the client's own (no connection, a deadline, a reset: it carries a DebugException, or is a
    /// cancellation) is no answer; an HTTP status instead of a gRPC answer is that status; a message past the
    /// channel's cap says so; otherwise the status code the app answered with, without its text.
    /// </summary>
    private static string Describe(RpcException rpc)
    {
        if (rpc.Status.DebugException is not null || rpc.StatusCode is StatusCode.Cancelled or StatusCode.DeadlineExceeded)
        {
            return NoAnswer;
        }
        if (HttpStatusInDetail().Match(rpc.Status.Detail) is { Success: true } http)
        {
            return Refused(int.Parse(http.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
        }
        if (rpc.StatusCode == StatusCode.ResourceExhausted && rpc.Status.Detail.Contains("maximum", StringComparison.OrdinalIgnoreCase))
        {
            return "the answer is larger than the most Delivery reads (Delivery:Outbound:MaxResponseBytes)";
        }
        return RefusedGrpc(rpc.StatusCode);
    }

    private static Exception? Next(Exception e) => e.InnerException ?? (e as RpcException)?.Status.DebugException;

    // Grpc.Net.Client's words for a response that is not gRPC: "Bad gRPC response. HTTP status code: 302".
    [GeneratedRegex(@"^Bad gRPC response\. HTTP status code: (\d{3})")]
    private static partial Regex HttpStatusInDetail();
}
