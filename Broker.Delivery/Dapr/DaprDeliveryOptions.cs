using System.ComponentModel.DataAnnotations;
using Broker.Contracts.Dapr;

namespace Broker.Delivery.Dapr;

/// <summary>Delivery's side of Dapr: topics made on demand, and delivery to Dapr apps without a sidecar; bound from "Delivery:Dapr".</summary>
public sealed class DaprDeliveryOptions : TopicsOnDemandOptions
{
    public const string SectionName = "Delivery:Dapr";

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
