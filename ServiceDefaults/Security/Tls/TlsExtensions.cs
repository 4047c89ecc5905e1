using Broker.ServiceDefaults.Security.Tls;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// TLS as a client and for client certificates (see docs/security.md, "TLS"): the "Tls" settings, validated at
/// start-up, one <see cref="TlsTrust"/> for the process, on every HttpClient from the factory (gRPC clients included),
/// on JwtBearer's metadata backchannel, and as Kestrel's check of client certificates. Redis (BrokerRedisExtensions),
/// S3 (Storage's segment store) and the Dapr component's channels take the same <see cref="TlsTrust"/>. Serving TLS
/// needs nothing here: it is Kestrel's own certificate settings.
/// </summary>
public static class TlsExtensions
{
    public static TBuilder AddBrokerTls<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<TlsOptions>().BindConfiguration(TlsOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TlsOptions>, TlsOptionsValidation>();
        builder.Services.TryAddSingleton<TlsTrust>();
        builder.Services.AddHostedService<TlsAnnouncement>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, TlsHttpClientFilter>());

        // Client certificates on endpoints that ask for them (Kestrel:Endpoints:{name}:ClientCertificateMode) are checked
        // against the same CAs; with no Tls:CaCertificate, Kestrel's own check (the system's CAs) stays.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<TlsTrust>((kestrel, tls) =>
        {
            if (tls.HasCaCertificates)
            {
                kestrel.ConfigureHttpsDefaults(https => https.ClientCertificateValidation ??= tls.ValidateClientCertificate);
            }
        });
        // An OIDC issuer served with a certificate of the private CA: its metadata and keys are fetched through the same trust.
        builder.Services.AddOptions<JwtBearerOptions>(SecurityExtensions.JwtScheme).Configure<TlsTrust>((jwt, tls) =>
        {
            if (tls.IsConfigured)
            {
                jwt.BackchannelHttpHandler ??= tls.CreateHandler();
            }
        });
        return builder;
    }

    /// <summary>This client decides its TLS itself (its own primary handler): the "Tls" settings are not put on it.</summary>
    public static IHttpClientBuilder KeepOwnTls(this IHttpClientBuilder builder)
    {
        builder.Services.Configure<TlsHttpClientOptions>(o => o.OwnTls.Add(builder.Name));
        return builder;
    }

    private sealed class TlsOptionsValidation : IValidateOptions<TlsOptions>
    {
        public ValidateOptionsResult Validate(string? name, TlsOptions options)
        {
            var problems = new List<string>();
            if (!string.IsNullOrWhiteSpace(options.CaCertificate))
            {
                try
                {
                    TlsTrust.ReadCaCertificates(options.CaCertificate, $"{TlsOptions.SectionName}:{nameof(TlsOptions.CaCertificate)}");
                }
                catch (ArgumentException ex)
                {
                    problems.Add(ex.Message);
                }
            }
            try
            {
                TlsTrust.ReadClientCertificate(options.ClientCertificate)?.Dispose();
            }
            catch (ArgumentException ex)
            {
                problems.Add(ex.Message);
            }
            return problems.Count > 0 ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
        }
    }
}
