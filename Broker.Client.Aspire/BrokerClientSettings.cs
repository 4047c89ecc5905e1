namespace Broker.Client.Aspire;

/// <summary>
/// The settings of <c>AddBrokerClient</c>, from the configuration section <c>Broker:Client</c> (or
/// <c>Broker:Client:{name}</c> for a keyed client) and the connection string <c>ConnectionStrings:{name}</c>.
/// </summary>
public sealed class BrokerClientSettings
{
    /// <summary>The broker's connection string (<c>Storage=…;IngestGrpc=…;DeliveryGrpc=…;…</c>); the connection string of the name wins.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>An API key or JWT sent on every call (<c>Broker:Client:Token</c>); a <c>Token=</c> in the connection string wins.</summary>
    public string? Token { get; set; }

    /// <summary>Whether a health check (Storage's <c>/health</c>) is registered. On by default.</summary>
    public bool DisableHealthChecks { get; set; }

    /// <summary>Whether the client's spans (<c>Broker.Client</c>) are added to OpenTelemetry tracing. On by default.</summary>
    public bool DisableTracing { get; set; }

    /// <summary>Whether the client's metrics (<c>Broker.Client</c>) are added to OpenTelemetry metrics. On by default.</summary>
    public bool DisableMetrics { get; set; }
}
