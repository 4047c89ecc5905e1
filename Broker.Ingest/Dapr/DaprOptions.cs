using System.ComponentModel.DataAnnotations;

namespace Broker.Ingest.Dapr;

/// <summary>How Ingest answers Dapr's publish API (sidecarless publishing), bound from "Ingest:Dapr".</summary>
public sealed class DaprOptions
{
    public const string SectionName = "Ingest:Dapr";

    /// <summary>
    /// Dapr apps never create topics: a publish to a topic that does not exist creates it (with the partitions and
    /// retention below). Off: the publish is refused with NOT_FOUND naming the topic.
    /// </summary>
    public bool CreateTopics { get; set; } = true;

    [Range(1, 1024)]
    public int TopicPartitions { get; set; } = 4;

    /// <summary>Retention of a topic made on demand in ms; 0 takes Storage's default (7 days), -1 keeps forever.</summary>
    [Range(-1, long.MaxValue)]
    public long TopicRetentionMs { get; set; }

    /// <summary>The CloudEvent <c>source</c> when the publisher's metadata names none (daprd puts the app id there).</summary>
    [Required]
    public string Source { get; set; } = "broker";
}
