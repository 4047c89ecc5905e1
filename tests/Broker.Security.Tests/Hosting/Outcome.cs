using System.Net;
using Grpc.Core;

namespace Broker.Security.Tests.Hosting;

/// <summary>What a call came to, whatever the protocol: the four answers the auth matrix tells apart.</summary>
public enum Outcome
{
    Ok,
    Unauthenticated,
    Forbidden,
    Other,
}

public static class Outcomes
{
    public static Outcome Of(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized => Outcome.Unauthenticated,
        HttpStatusCode.Forbidden => Outcome.Forbidden,
        _ when (int)status is >= 200 and < 300 => Outcome.Ok,
        _ => Outcome.Other,
    };

    public static Outcome Of(StatusCode status) => status switch
    {
        StatusCode.OK => Outcome.Ok,
        StatusCode.Unauthenticated => Outcome.Unauthenticated,
        StatusCode.PermissionDenied => Outcome.Forbidden,
        _ => Outcome.Other,
    };

    /// <summary>Runs a gRPC call: OK, or the outcome of the status it failed with.</summary>
    public static async Task<(Outcome Outcome, string Detail)> GrpcAsync(Func<Task> call)
    {
        try
        {
            await call();
            return (Outcome.Ok, "OK");
        }
        catch (RpcException ex)
        {
            return (Of(ex.StatusCode), $"{ex.StatusCode}: {ex.Status.Detail}");
        }
    }

    /// <summary>Sends a REST request: the outcome, and the status with the body for failure messages.</summary>
    public static async Task<(Outcome Outcome, string Detail)> HttpAsync(HttpClient http, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return (Of(response.StatusCode), $"{(int)response.StatusCode}: {(body.Length > 300 ? body[..300] : body)}");
    }
}
