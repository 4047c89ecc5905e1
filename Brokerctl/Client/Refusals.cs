using Grpc.Core;

namespace Broker.Ctl.Client;

/// <summary>
/// How brokerctl says that a service refused the caller: 401 (UNAUTHENTICATED) as "not authenticated" with how to give
/// a token, 403 (PERMISSION_DENIED) as "not allowed" with the service's message naming the missing right. Both exit 1.
/// </summary>
public static class Refusals
{
    public static CtlException NotAuthenticated(string message) =>
        new($"not authenticated: {message} (give --token or set BROKER_TOKEN)", 1);

    public static CtlException NotAllowed(string message) => new($"not allowed: {message}", 1);

    /// <summary>A gRPC status as brokerctl says it: a refusal as above, otherwise <paramref name="otherwise"/>'s words.</summary>
    public static CtlException FromGrpc(StatusCode code, string detail, Func<CtlException> otherwise) => code switch
    {
        StatusCode.Unauthenticated => NotAuthenticated(detail),
        StatusCode.PermissionDenied => NotAllowed(detail),
        _ => otherwise(),
    };
}
