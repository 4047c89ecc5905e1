using System.ComponentModel.DataAnnotations;

namespace Broker.ServiceDefaults.Redis;

/// <summary>Settings for the shared Redis connection, bound from "Broker:Redis" plus ConnectionStrings:{name}.</summary>
public sealed class BrokerRedisSettings
{
    public const string SectionName = "Broker:Redis";

    /// <summary>A StackExchange.Redis configuration string, usually from ConnectionStrings:redis.</summary>
    [Required]
    public string? ConnectionString { get; set; }

    /// <summary>How long a connect attempt may take; reconnects keep trying in the background after it.</summary>
    [Range(100, 120_000)]
    public int ConnectTimeoutMs { get; set; } = 5_000;

    /// <summary>How long one command may wait for its answer before it times out.</summary>
    [Range(100, 120_000)]
    public int CommandTimeoutMs { get; set; } = 5_000;

    public bool DisableHealthChecks { get; set; }
}
