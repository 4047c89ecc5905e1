using Broker.Client;
using Broker.Client.Aspire;
using Broker.Client.Producing;
using Broker.Client.Serialization;
using Broker.Client.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Registers the broker's clients the way Aspire's client integrations do: <c>builder.AddBrokerClient("broker")</c> reads
/// <c>ConnectionStrings:broker</c> (what <c>WithReference(broker)</c> writes) and the section <c>Broker:Client</c>.
/// </summary>
public static class BrokerClientExtensions
{
    private const string Section = "Broker:Client";

    /// <summary>
    /// Registers a <see cref="BrokerClientFactory"/> (producers, consumers, admin) for the broker of the connection string
    /// <paramref name="connectionName"/>, with a health check, tracing and metrics unless the settings switch them off.
    /// </summary>
    /// <exception cref="InvalidOperationException">There is no connection string of that name and no <c>Broker:Client:ConnectionString</c>.</exception>
    public static void AddBrokerClient(this IHostApplicationBuilder builder, string connectionName, Action<BrokerClientSettings>? configureSettings = null) =>
        Add(builder, connectionName, serviceKey: null, configureSettings);

    /// <summary>As <see cref="AddBrokerClient"/>, registered under the key <paramref name="name"/> (several brokers in one app).</summary>
    public static void AddKeyedBrokerClient(this IHostApplicationBuilder builder, string name, Action<BrokerClientSettings>? configureSettings = null) =>
        Add(builder, name, serviceKey: name, configureSettings);

    /// <summary>
    /// Registers one <see cref="BrokerProducer{TKey, TValue}"/> (a singleton, disposed with the app, which flushes it) for
    /// the broker of <paramref name="connectionName"/>, adding the client's registrations first if needed.
    /// </summary>
    public static void AddBrokerProducer<TKey, TValue>(this IHostApplicationBuilder builder, string connectionName, ProducerOptions? options = null,
        ISerializer<TKey>? keySerializer = null, ISerializer<TValue>? valueSerializer = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registered = builder.Services.FirstOrDefault(d => d.ServiceType == typeof(BrokerClientName) && !d.IsKeyedService)?.ImplementationInstance as BrokerClientName;
        if (registered is null)
        {
            builder.AddBrokerClient(connectionName);
        }
        else if (registered.Name != connectionName)
        {
            throw new InvalidOperationException(
                $"AddBrokerProducer(\"{connectionName}\"): the app's broker client is already '{registered.Name}'; use AddKeyedBrokerClient for a second broker.");
        }
        builder.Services.AddSingleton(services => services.GetRequiredService<BrokerClientFactory>().CreateProducer(options, keySerializer, valueSerializer));
    }

    private static void Add(IHostApplicationBuilder builder, string name, string? serviceKey, Action<BrokerClientSettings>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var section = builder.Configuration.GetSection(Section);
        var settings = new BrokerClientSettings
        {
            ConnectionString = section["ConnectionString"],
            Token = section["Token"],
            DisableHealthChecks = bool.TryParse(section["DisableHealthChecks"], out var noHealth) && noHealth,
            DisableTracing = bool.TryParse(section["DisableTracing"], out var noTracing) && noTracing,
            DisableMetrics = bool.TryParse(section["DisableMetrics"], out var noMetrics) && noMetrics,
        };
        if (serviceKey is not null && section.GetSection(serviceKey) is { } keyed)
        {
            settings.ConnectionString = keyed["ConnectionString"] ?? settings.ConnectionString;
            settings.Token = keyed["Token"] ?? settings.Token;
        }
        if (builder.Configuration.GetConnectionString(name) is { Length: > 0 } connectionString)
        {
            settings.ConnectionString = connectionString;
        }
        configure?.Invoke(settings);
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"The broker client '{name}' has no connection string: set ConnectionStrings:{name} (WithReference(broker) in an Aspire AppHost does) or {Section}:ConnectionString.");
        }
        var options = BrokerClientOptions.FromConnectionString(settings.ConnectionString);
        options.Token ??= settings.Token;

        if (serviceKey is null)
        {
            builder.Services.AddSingleton(new BrokerClientName(name));
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(_ => new BrokerClientFactory(options));
            builder.Services.AddSingleton(services => services.GetRequiredService<BrokerClientFactory>().Admin);
        }
        else
        {
            builder.Services.AddKeyedSingleton(serviceKey, options);
            builder.Services.AddKeyedSingleton(serviceKey, (_, _) => new BrokerClientFactory(options));
            builder.Services.AddKeyedSingleton(serviceKey, (services, key) => services.GetRequiredKeyedService<BrokerClientFactory>(key).Admin);
        }
        if (!settings.DisableHealthChecks)
        {
            // One check for the registration's life: its connection is reused by every probe.
            var check = new BrokerHealthCheck(options);
            builder.Services.AddSingleton(check);
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(serviceKey is null ? "broker" : $"broker_{serviceKey}",
                _ => check, failureStatus: null, tags: ["ready"]));
        }
        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(ClientTelemetry.Name));
        }
        if (!settings.DisableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ClientTelemetry.Name));
        }
    }
}

/// <summary>Which connection name the app's (unkeyed) broker client was registered for.</summary>
internal sealed record BrokerClientName(string Name);
