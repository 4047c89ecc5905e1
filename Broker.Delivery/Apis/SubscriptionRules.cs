using Broker.Contracts.Delivery;
using Broker.Contracts.Naming;
using Broker.Delivery.Consuming;

namespace Broker.Delivery.Apis;

/// <summary>The checks a subscription must pass, shared by the gRPC and HTTP transports: field → problem.</summary>
internal static class SubscriptionRules
{
    public static Dictionary<string, string[]> Check(
        string group, string topic, int? window, int? ackTimeoutMs, string? consumerName, DeliveryOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        if (Names.Check(group, "group") is { } groupError)
        {
            errors["group"] = [groupError];
        }
        if (Names.Check(topic) is { } topicError)
        {
            errors["topic"] = [topicError];
        }
        if (window is { } w && (w < 1 || w > options.MaxWindow))
        {
            errors["window"] = [$"window must be between 1 and {options.MaxWindow} (Delivery:MaxWindow) records in flight; got {w}."];
        }
        if (ackTimeoutMs is { } t && (t < 10 || t > options.MaxAckTimeoutMs))
        {
            errors["ackTimeoutMs"] = [$"ackTimeoutMs must be between 10 and {options.MaxAckTimeoutMs} (Delivery:MaxAckTimeoutMs); got {t}."];
        }
        if (consumerName is { Length: > 200 })
        {
            errors["consumerName"] = ["A consumer name has at most 200 characters."];
        }
        return errors;
    }

    public static SubscriptionSpec Spec(
        string group, string topic, int? window, DeliveryMode mode, StartPosition start, int? ackTimeoutMs, string? name, DeliveryOptions options) =>
        new(group, topic, window ?? options.DefaultWindow, mode, start,
            TimeSpan.FromMilliseconds(ackTimeoutMs ?? options.DefaultAckTimeoutMs), name);
}
