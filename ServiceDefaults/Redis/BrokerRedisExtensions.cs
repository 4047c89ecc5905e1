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
/// in the connection string, trusting what <see cref="TlsTrust"/> trusts; Sentinel with serviceName= (see
/// <see cref="BrokerRedisConnector"/>).
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

        builder.Services.AddSingleton(sp => new BrokerRedisConnector(
            sp.GetRequiredService<IOptions<BrokerRedisSettings>>(), builder.Environment.ApplicationName, sp.GetService<TlsTrust>()));
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp => sp.GetRequiredService<BrokerRedisConnector>().ConnectShared());

        var disableHealth = builder.Configuration.GetValue<bool>($"{BrokerRedisSettings.SectionName}:DisableHealthChecks");
        if (!disableHealth)
        {
            builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>($"redis-{connectionName}", HealthStatus.Unhealthy, ["ready"]);
        }
        return builder;
    }
}
