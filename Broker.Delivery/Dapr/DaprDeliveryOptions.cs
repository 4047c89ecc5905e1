using System.ComponentModel.DataAnnotations;

namespace Broker.Delivery.Dapr;

/// <summary>Delivery's side of Dapr: topics made on demand, and delivery to Dapr apps without a sidecar; bound from "Delivery:Dapr".</summary>
public sealed class DaprDeliveryOptions
{
    public const string SectionName = "Delivery:Dapr";

    /// <summary>
    /// Dapr apps never create topics: a Dapr subscription (the pluggable component's, or an app's) to a topic that
    /// does not exist creates it. Off: the subscription is refused with NOT_FOUND naming the topic.
    /// </summary>
    public bool CreateTopics { get; set; } = true;

    [Range(1, 1024)]
    public int TopicPartitions { get; set; } = 4;

    /// <summary>Retention of a topic made on demand in ms; 0 takes Storage's default (7 days), -1 keeps forever.</summary>
    [Range(-1, long.MaxValue)]
    public long TopicRetentionMs { get; set; }

    /// <summary>The pub/sub name apps subscribe with (Dapr's component name): their subscriptions to other pub/subs are not the broker's.</summary>
    [Required]
    public string PubsubName { get; set; } = "pubsub";

    /// <summary>How often each app's subscriptions are asked for again (GET /dapr/subscribe, or ListTopicSubscriptions).</summary>
    [Range(1_000, 86_400_000)]
    public int DiscoveryIntervalMs { get; set; } = 30_000;

    /// <summary>How long one delivery to an app (a POST, or an OnTopicEvent call) may take before it counts as failed.</summary>
    [Range(100, 3_600_000)]
    public int AppTimeoutMs { get; set; } = 30_000;

    /// <summary>Records in flight to one app subscription (delivered, not yet answered).</summary>
    [Range(1, 10_000)]
    public int Window { get; set; } = 16;

    /// <summary>Apps to deliver to from start-up, by app id: <c>Delivery:Dapr:Apps:{appId}:Url</c> and <c>…:Protocol</c> (http or grpc).</summary>
    public Dictionary<string, AppSettings> Apps { get; set; } = [];

    public sealed class AppSettings
    {
        public string? Url { get; set; }

        public string Protocol { get; set; } = "http";
    }
}
