using Broker.Delivery.Consuming;
using Broker.Delivery.Retries;
using Broker.Delivery.Telemetry;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Dapr;

/// <summary>What every app deliverer works with, in one place.</summary>
internal sealed class AppDeliveryServices(
    GroupSessions sessions,
    DaprTopics topics,
    DeadLetterWriter deadLetters,
    AppDeliveryMetrics metrics,
    DeliveryMetrics deliveryMetrics,
    IOptions<DaprDeliveryOptions> options,
    IOptions<DeliveryOptions> deliveryOptions,
    AccessControl access,
    TimeProvider time,
    ILoggerFactory loggers)
{
    public GroupSessions Sessions { get; } = sessions;
    public DaprTopics Topics { get; } = topics;
    public DeadLetterWriter DeadLetters { get; } = deadLetters;
    public AppDeliveryMetrics Metrics { get; } = metrics;
    public DeliveryMetrics DeliveryMetrics { get; } = deliveryMetrics;
    public DaprDeliveryOptions Options { get; } = options.Value;
    public DeliveryOptions DeliveryOptions { get; } = deliveryOptions.Value;
    public AccessControl Access { get; } = access;
    public TimeProvider Time { get; } = time;
    public ILogger Logger { get; } = loggers.CreateLogger("Broker.Delivery.Dapr");
}
