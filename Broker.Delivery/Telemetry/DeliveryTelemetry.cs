using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Broker.Delivery.Telemetry;

/// <summary>
/// Delivery's ActivitySource: one consumer span per delivery attempt, a child of the trace in the record's
/// traceparent header (the producer's), open until the consumer acks or nacks it.
/// </summary>
public static class DeliveryTelemetry
{
    public const string Name = "Broker.Delivery";
    public static readonly ActivitySource Source = new(Name);
}

/// <summary>Delivery's instruments; tags are topic and group (bounded by configuration), never keys or offsets.</summary>
public sealed class DeliveryMetrics
{
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _acked;
    private readonly Counter<long> _nacked;
    private readonly Counter<long> _redelivered;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _expired;
    private readonly Histogram<double> _endToEnd;

    public DeliveryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(DeliveryTelemetry.Name);
        _delivered = meter.CreateCounter<long>("broker.delivery.delivered", "{message}", "Records handed to consumers (every attempt).");
        _acked = meter.CreateCounter<long>("broker.delivery.acked", "{message}", "Records acknowledged by consumers.");
        _nacked = meter.CreateCounter<long>("broker.delivery.nacked", "{message}", "Attempts that failed: nacked, or not acked in time.");
        _redelivered = meter.CreateCounter<long>("broker.delivery.redelivered", "{message}", "Attempts after the first.");
        _deadLettered = meter.CreateCounter<long>("broker.delivery.dead_lettered", "{message}", "Records moved to a dead-letter topic after their last attempt.");
        _expired = meter.CreateCounter<long>("broker.delivery.expired", "{message}", "Records skipped because their time-to-live passed before delivery.");
        _endToEnd = meter.CreateHistogram<double>("broker.delivery.end_to_end.duration", "s", "Time from a record's timestamp to its first delivery.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        meter.CreateObservableGauge("broker.delivery.lag", () => LagSource?.Invoke() ?? [], "{message}",
            "Records between a group's committed offset and the end of a partition, for partitions this instance serves.");
    }

    /// <summary>Where the lag gauge reads from: the partitions this instance serves (set by the consumer registry).</summary>
    public Func<IEnumerable<Measurement<long>>>? LagSource { get; set; }

    public void Delivered(in Tags tags, int attempt, long recordTimestampMs, long nowMs)
    {
        _delivered.Add(1, tags.Topic, tags.Group);
        if (attempt > 1)
        {
            _redelivered.Add(1, tags.Topic, tags.Group);
        }
        else
        {
            _endToEnd.Record(Math.Max(0, nowMs - recordTimestampMs) / 1000.0, tags.Topic, tags.Group);
        }
    }

    public void Acked(in Tags tags) => _acked.Add(1, tags.Topic, tags.Group);
    public void Nacked(in Tags tags) => _nacked.Add(1, tags.Topic, tags.Group);
    public void DeadLettered(in Tags tags) => _deadLettered.Add(1, tags.Topic, tags.Group);
    public void Expired(in Tags tags) => _expired.Add(1, tags.Topic, tags.Group);

    /// <summary>A subscription's tags, built once per consumer rather than per record.</summary>
    public readonly struct Tags(string topic, string group)
    {
        public KeyValuePair<string, object?> Topic { get; } = new("messaging.destination.name", topic);
        public KeyValuePair<string, object?> Group { get; } = new("messaging.consumer.group.name", group);
    }
}
