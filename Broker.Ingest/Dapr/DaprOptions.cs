using System.ComponentModel.DataAnnotations;
using Broker.Contracts.Dapr;

namespace Broker.Ingest.Dapr;

/// <summary>How Ingest answers Dapr's publish API (sidecarless publishing), bound from "Ingest:Dapr".</summary>
public sealed class DaprOptions : TopicsOnDemandOptions
{
    public const string SectionName = "Ingest:Dapr";

    /// <summary>The CloudEvent <c>source</c> when the publisher's metadata names none (daprd puts the app id there).</summary>
    [Required]
    public string Source { get; set; } = "broker";
}
