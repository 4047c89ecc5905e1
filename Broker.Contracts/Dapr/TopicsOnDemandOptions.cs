using System.ComponentModel.DataAnnotations;

namespace Broker.Contracts.Dapr;

/// <summary>
/// Dapr apps never create topics: a Dapr publish (Ingest:Dapr) or subscription (Delivery:Dapr) to a topic that does
/// not exist creates it with these defaults. Off: the call is refused with NOT_FOUND naming the topic.
/// </summary>
public abstract class TopicsOnDemandOptions
{
    public bool CreateTopics { get; set; } = true;

    [Range(1, 1024)]
    public int TopicPartitions { get; set; } = 4;

    /// <summary>Retention of a topic made on demand in ms; 0 takes Storage's default (7 days), -1 keeps forever.</summary>
    [Range(-1, long.MaxValue)]
    public long TopicRetentionMs { get; set; }
}
