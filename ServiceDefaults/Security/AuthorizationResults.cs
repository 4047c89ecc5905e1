using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// Answers a request that has no valid credential (401) in the service's own error shape, or as a gRPC status
/// (UNAUTHENTICATED) for gRPC calls, saying what was wrong with the credential without echoing it; each is counted
/// and logged with the caller's address.
/// </summary>
internal sealed class AuthorizationResults(IAccessRefusals refusals, SecurityMetrics metrics, ILogger<AuthorizationResults> logger)
    : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged || (authorizeResult.Forbidden && context.User.Identity?.IsAuthenticated != true))
        {
            // The authentication middleware keeps only a success; the handlers cache their result per request, so asking
            // again costs nothing and says what was wrong with the credential.
            var failure = (await context.AuthenticateAsync()).Failure;
            var reason = Describe(failure);
            metrics.AuthenticationFailed(failure is null ? "missing" : "invalid");
            SecurityLog.AuthenticationFailed(logger, context.Connection.RemoteIpAddress?.ToString() ?? "a local socket", context.Request.Path, reason);
            await RefusalWriter.WriteAsync(context, refusals, StatusCodes.Status401Unauthorized, reason);
            return;
        }
        if (authorizeResult.Forbidden)
        {
            await RefusalWriter.WriteAsync(context, refusals, StatusCodes.Status403Forbidden, $"Principal '{context.User.Name()}' may not call this endpoint.");
            return;
        }
        await next(context);
    }

    /// <summary>What was wrong, in words that are safe to send back (never the credential, never a stack).</summary>
    private static string Describe(Exception? failure) => failure switch
    {
        null => "This broker needs a credential: send Authorization: Bearer <API key or token> (or Basic principal:key; DaprClient's dapr-api-token).",
        SecurityTokenExpiredException => "The token has expired.",
        SecurityTokenNotYetValidException => "The token is not valid yet.",
        SecurityTokenInvalidAudienceException => "The token is not for this audience (Auth:Jwt:Audience).",
        SecurityTokenInvalidIssuerException => "The token is not from this broker's issuer (Auth:Jwt:Authority).",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "The token's signature is not valid.",
        SecurityTokenException => "The token is not valid.",
        // Our own handlers' messages are written to be sent back; IdentityModel's (IDXnnnnn) may name the issuer's URLs.
        _ => failure.Message.Contains("IDX", StringComparison.Ordinal) ? "The token could not be validated." : failure.Message,
    };
}
