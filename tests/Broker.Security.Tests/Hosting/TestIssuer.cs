using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Broker.Security.Tests.Tls;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Security.Tests.Hosting;

/// <summary>
/// An OIDC issuer as small as it can be and still be one: its discovery document and its signing keys (JWKS) over
/// HTTP on a loopback port (HTTPS with a certificate of the test CA when <see cref="TestCertificates"/> are given), and
/// tokens signed with an RSA key the test made, as an identity provider would sign them.
/// </summary>
public sealed class TestIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RsaSecurityKey _key = new(RSA.Create(2048)) { KeyId = "test-key-1" };

    private TestIssuer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>The issuer as a token names it (iss) and as Auth:Jwt:Authority names it.</summary>
    public string Authority => Url.ToString().TrimEnd('/');

    public static async Task<TestIssuer> StartAsync(TestCertificates? tls = null)
    {
        var url = new Uri($"{(tls is null ? "http" : "https")}://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        var builder = WebApplication.CreateBuilder();
        // Not the test folder's appsettings.json: it is a service's, copied there by the build, and its endpoints would override ours.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(tls?.KestrelCertificate().Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.WebHost.UseUrls(url.ToString());
        var app = builder.Build();
        var issuer = new TestIssuer(app, url);
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = issuer.Authority,
            ["jwks_uri"] = issuer.Authority + "/jwks",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        app.MapGet("/jwks", () =>
        {
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(issuer._key);
            return Results.Json(new { keys = new[] { new { kty = jwk.Kty, kid = jwk.Kid, use = "sig", alg = "RS256", n = jwk.N, e = jwk.E } } });
        });
        await app.StartAsync();
        return issuer;
    }

    /// <summary>A token for <paramref name="subject"/>; by default valid for an hour for audience "broker", signed with this issuer's key.</summary>
    public string Token(string subject, string audience = "broker", TimeSpan? expiresIn = null, RsaSecurityKey? signedWith = null, string? issuer = null)
    {
        var now = DateTime.UtcNow;
        var expires = now + (expiresIn ?? TimeSpan.FromHours(1));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Authority,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            IssuedAt = expires < now ? expires.AddHours(-1) : now,
            NotBefore = expires < now ? expires.AddHours(-1) : now,
            Expires = expires,
            SigningCredentials = new SigningCredentials(signedWith ?? _key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
