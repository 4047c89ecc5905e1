using System.ComponentModel.DataAnnotations;

namespace Broker.DaprComponent;

/// <summary>
/// Where the component listens and, unless a component's metadata says otherwise, where it finds the broker;
/// bound from "DaprComponent". The socket folder and extension follow Dapr's environment variables.
/// </summary>
public sealed class ComponentOptions
{
    public const string SectionName = "DaprComponent";

    /// <summary>The folder daprd looks for component sockets in: DAPR_COMPONENTS_SOCKETS_FOLDER, else Dapr's default.</summary>
    [Required]
    public string SocketsFolder { get; set; } = Environment.GetEnvironmentVariable("DAPR_COMPONENTS_SOCKETS_FOLDER") is { Length: > 0 } folder
        ? folder
        : "/tmp/dapr-components-sockets";

    /// <summary>The socket's name: the component type daprd registers is <c>pubsub.&lt;name&gt;</c>.</summary>
    [Required, RegularExpression("^[A-Za-z0-9_-]{1,64}$")]
    public string SocketName { get; set; } = "broker";

    [Required]
    public string SocketExtension { get; set; } = Environment.GetEnvironmentVariable("DAPR_COMPONENTS_SOCKETS_EXTENSION") is { Length: > 0 } extension
        ? extension
        : ".sock";

    /// <summary>Ingest's gRPC endpoint when a component's metadata names no ingestAddress (else services:ingest:grpc:0).</summary>
    public string? IngestAddress { get; set; }

    /// <summary>Delivery's gRPC endpoint when a component's metadata names no deliveryAddress (else services:delivery:grpc:0).</summary>
    public string? DeliveryAddress { get; set; }

    /// <summary>The API key (or token) the component calls Ingest and Delivery with when its metadata has no <c>token</c>.</summary>
    public string? Token { get; set; }

    /// <summary>Messages handed to daprd and not yet acked, per subscription, unless the metadata says (maxInFlight).</summary>
    [Range(1, 10_000)]
    public int DefaultWindow { get; set; } = 10;

    public string SocketPath => Path.Combine(SocketsFolder, SocketName + SocketExtension);
}
