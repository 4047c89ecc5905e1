using Broker.ServiceDefaults.Redis;
using Broker.ServiceDefaults.Security.Tls;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The shared Redis connection in the shape of an Aspire component: a connection string plus a settings
/// section, validated at start-up, one multiplexer for the process, and a readiness health check. TLS with ssl=true
/// in the connection string, trusting what <see cref="TlsTrust"/> trusts.
/// </summary>
public static class BrokerRedisExtensions
{
    /// <summary>True when ConnectionStrings:{connectionName} is set.</summary>
    public static bool HasRedisConnectionString(this IHostApplicationBuilder builder, string connectionName) =>
        !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(connectionName));

    public static IHostApplicationBuilder AddBrokerRedis(this IHostApplicationBuilder builder, string connectionName)
    {
        builder.Services.AddOptions<BrokerRedisSettings>()
            .BindConfiguration(BrokerRedisSettings.SectionName)
            .Configure<IConfiguration>((settings, configuration) =>
                settings.ConnectionString ??= configuration.GetConnectionString(connectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<BrokerRedisSettings>>().Value;
            var options = ConfigurationOptions.Parse(settings.ConnectionString!);
            // Start even when Redis is briefly down and keep reconnecting; health reports the outage.
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = settings.ConnectTimeoutMs;
            options.SyncTimeout = settings.CommandTimeoutMs;
            options.AsyncTimeout = settings.CommandTimeoutMs;
            options.ClientName ??= builder.Environment.ApplicationName;
            // ssl=true in the connection string: the server's certificate is checked as every other client's TLS is
            // (the system's CAs or Tls:CaCertificate, host name from sslHost or the address), with Tls:ClientCertificate when set.
            if (options.Ssl && sp.GetService<TlsTrust>() is { IsConfigured: true } tls)
            {
                if (tls.HasCaCertificates)
                {
                    options.CertificateValidation += tls.ValidateServerCertificate;
                }
                if (tls.ClientCertificate is { } certificate)
                {
                    options.CertificateSelection += (_, _, _, _, _) => certificate;
                }
            }
            return ConnectionMultiplexer.Connect(options);
        });

        var disableHealth = builder.Configuration.GetValue<bool>($"{BrokerRedisSettings.SectionName}:DisableHealthChecks");
        if (!disableHealth)
        {
            builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>($"redis-{connectionName}", HealthStatus.Unhealthy, ["ready"]);
        }
        return builder;
    }
}
