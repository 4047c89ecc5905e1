using Broker.Delivery.Groups;
using Broker.Delivery.Retries;
using Broker.Delivery.StorageAccess;
using Broker.Delivery.Telemetry;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Consuming;

/// <summary>What every consumer, partition and group session of this instance works with, in one place.</summary>
internal sealed class ConsumerServices(
    LogClient log,
    IGroupCoordinator coordinator,
    RedeliveryPolicy redelivery,
    DeadLetterWriter deadLetters,
    DeliveryMetrics metrics,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILoggerFactory loggers)
{
    public LogClient Log { get; } = log;
    public IGroupCoordinator Coordinator { get; } = coordinator;
    public RedeliveryPolicy Redelivery { get; } = redelivery;
    public DeadLetterWriter DeadLetters { get; } = deadLetters;
    public DeliveryOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    public ILogger Logger { get; } = loggers.CreateLogger("Broker.Delivery.Consuming");

    public DeliveryMetrics Metrics { get; } = metrics;

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();
}
