using System.Buffers.Text;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// API keys, however a client sends them: <c>Authorization: Bearer {secret}</c> (gRPC metadata <c>authorization</c>
/// likewise), <c>Authorization: Basic base64(principal:secret)</c> (what Confluent's registry clients send), or
/// <c>dapr-api-token: {secret}</c> (what DaprClient sends). The service key may name the end user it acts for in
/// <see cref="Principals.OnBehalfOfHeader"/>; nobody else may.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, KeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "apikey";

    public const string DaprApiTokenHeader = "dapr-api-token";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        string? basicName = null;
        string? secret;
        if (authorization.Length == 0)
        {
            secret = Request.Headers[DaprApiTokenHeader].ToString();
            if (secret.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
        }
        else if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            secret = authorization["Bearer ".Length..].Trim();
        }
        else if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryDecodeBasic(authorization["Basic ".Length..].Trim(), out basicName, out secret))
            {
                return Task.FromResult(AuthenticateResult.Fail("The Basic credential is not base64 of principal:secret."));
            }
        }
        else
        {
            return Task.FromResult(AuthenticateResult.Fail("Only Bearer and Basic credentials are taken."));
        }

        var principal = keys.Find(secret);
        if (principal is null || (basicName is not null && basicName != principal))
        {
            return Task.FromResult(AuthenticateResult.Fail("The credential is not valid."));
        }
        var user = Principals.Create(principal, SchemeName);
        if (principal == Principals.Service && Request.Headers[Principals.OnBehalfOfHeader].ToString() is { Length: > 0 } onBehalfOf)
        {
            if (Principals.Check(onBehalfOf) is { } nameError)
            {
                return Task.FromResult(AuthenticateResult.Fail($"{Principals.OnBehalfOfHeader}: {nameError}"));
            }
            user = Principals.Create(onBehalfOf, SchemeName, viaService: true);
        }
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(user, SchemeName)));
    }

    private static bool TryDecodeBasic(string encoded, out string? name, out string? secret)
    {
        name = secret = null;
        if (encoded.Length > 4 * KeyRing.MaxSecretLength)
        {
            return false;
        }
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (!Convert.TryFromBase64String(encoded, bytes, out var length))
        {
            return false;
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }
        name = text[..colon];
        secret = text[(colon + 1)..];
        return true;
    }
}
