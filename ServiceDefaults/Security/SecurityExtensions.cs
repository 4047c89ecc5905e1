using Broker.Contracts.Acls;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Quotas;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Authentication and authorization for every broker service (see docs/security.md): API keys, Basic and
/// dapr-api-token through <see cref="ApiKeyAuthenticationHandler"/>, JWTs from an OIDC issuer through JwtBearer, one
/// policy scheme choosing between them; with any credential configured every endpoint needs one (health and, unless
/// Auth:ProtectMetrics, metrics excepted), and ACL checks (<see cref="AccessControl"/>) decide the rest.
/// </summary>
public static class SecurityExtensions
{
    public const string PolicyScheme = "broker";
    public const string JwtScheme = "jwt";

    /// <summary>Endpoints reached only over a local Unix socket (the Dapr component's, for daprd), guarded by the socket's file mode.</summary>
    public const string LocalSocketPolicy = "local-socket";

    public static TBuilder AddBrokerSecurity<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidation>();
        var auth = builder.Configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<KeyRing>();
        builder.Services.AddSingleton<SecurityMetrics>();
        builder.Services.AddSingleton<AclAuthorizer>();
        builder.Services.AddSingleton<AccessControl>();
        builder.Services.TryAddSingleton<IAccessRefusals, ProblemDetailsRefusals>();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, AuthorizationResults>();
        builder.Services.AddHostedService<OpenBrokerGuard>();
        builder.Services.AddOptions<QuotaOptions>().BindConfiguration(QuotaOptions.SectionName)
            .Validate(o => !o.Problems().Any(), "Quotas: a rate is a positive number of bytes per second and Quotas:BurstSeconds is in (0, 3600].")
            .ValidateOnStart();
        builder.Services.AddSingleton<ClientQuotas>();

        var authentication = builder.Services.AddAuthentication(PolicyScheme)
            .AddPolicyScheme(PolicyScheme, "Broker credentials", o => o.ForwardDefaultSelector = context =>
                auth.Jwt.Enabled && LooksLikeJwt(context.Request.Headers.Authorization.ToString()) ? JwtScheme : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        if (auth.Jwt.Enabled)
        {
            authentication.AddJwtBearer(JwtScheme, o =>
            {
                o.Authority = auth.Jwt.Authority;
                o.Audience = auth.Jwt.Audience;
                o.RequireHttpsMetadata = auth.Jwt.RequireHttpsMetadata;
                o.MapInboundClaims = false;
                o.TokenValidationParameters.NameClaimType = auth.Jwt.PrincipalClaim;
                o.Events = new JwtBearerEvents
                {
                    // The principal is one claim's value, whatever else the token says.
                    OnTokenValidated = context =>
                    {
                        var name = context.Principal?.FindFirst(auth.Jwt.PrincipalClaim)?.Value;
                        if (Principals.Check(name) is { } problem)
                        {
                            context.Fail($"The token's '{auth.Jwt.PrincipalClaim}' claim is not a principal: {problem}");
                        }
                        else
                        {
                            context.Principal = Principals.Create(name!, JwtScheme);
                        }
                        return Task.CompletedTask;
                    },
                };
            });
        }

        var authorization = builder.Services.AddAuthorizationBuilder()
            .AddPolicy(LocalSocketPolicy, policy => policy.RequireAssertion(context =>
                context.Resource is HttpContext http && http.Connection.RemoteIpAddress is null && http.Connection.LocalIpAddress is null));
        if (auth.Enabled)
        {
            authorization.SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        }
        return builder;
    }

    /// <summary>Authentication, then authorization (the fallback policy and endpoint policies); ACL checks run in the endpoints.</summary>
    public static WebApplication UseBrokerSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// ACLs from Storage (<see cref="StorageAclWatcher"/>) for a service that is not Storage, when authentication is on.
    /// The watch goes to Auth:StorageAddress, else <paramref name="storageAddress"/>, with the service key, which the
    /// service must then have (it calls Storage with it).
    /// </summary>
    public static IHostApplicationBuilder AddStorageAcls(this IHostApplicationBuilder builder, string storageAddress)
    {
        var auth = builder.Configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
        if (!auth.Enabled)
        {
            return builder;
        }
        builder.Services.AddOptions<AuthOptions>().Validate(o => !string.IsNullOrEmpty(o.ServiceKey),
            "Auth:ServiceKey must be set when authentication is on: this service calls Storage (and reads its ACLs) with it.");
#pragma warning disable EXTEXP0001 // experimental, but the documented way to opt one client out of the defaults: a watch lasts for ever
        builder.Services.AddGrpcClient<AclService.AclServiceClient>(o => o.Address = new Uri(auth.StorageAddress ?? storageAddress))
            .AddServiceCredential()
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton<StorageAclWatcher>();
        builder.Services.AddSingleton<IAclSource>(sp => sp.GetRequiredService<StorageAclWatcher>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StorageAclWatcher>());
        return builder;
    }

    /// <summary>Calls through this client carry the service key (when one is configured).</summary>
    public static IHttpClientBuilder AddServiceCredential(this IHttpClientBuilder builder)
    {
        builder.Services.TryAddTransient<ServiceCredentialHandler>();
        return builder.AddHttpMessageHandler<ServiceCredentialHandler>();
    }

    /// <summary>A JWT is three base64url parts; an API key is not (they are told apart before either is checked).</summary>
    private static bool LooksLikeJwt(string authorization) =>
        authorization.StartsWith("Bearer ey", StringComparison.OrdinalIgnoreCase) && authorization.AsSpan().Count('.') == 2;

    private sealed class AuthOptionsValidation : IValidateOptions<AuthOptions>
    {
        public ValidateOptionsResult Validate(string? name, AuthOptions options) =>
            options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
