using System.Diagnostics;
using System.Diagnostics.Metrics;
using Broker.Ingest.Producing;

namespace Broker.Ingest.Telemetry;

/// <summary>Ingest's ActivitySource: one producer span per produce request, whose id goes on every record as traceparent.</summary>
public static class IngestTelemetry
{
    public const string Name = "Broker.Ingest";
    public static readonly ActivitySource Source = new(Name);
}

/// <summary>Ingest's instruments (OpenTelemetry messaging names where they exist); tags are bounded.</summary>
public sealed class IngestMetrics
{
    private readonly Counter<long> _records;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _rejections;
    private readonly Histogram<double> _duration;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(IngestTelemetry.Name);
        _records = meter.CreateCounter<long>("messaging.client.published.messages", "{message}", "Records published (confirmed by Storage).");
        _bytes = meter.CreateCounter<long>("broker.ingest.published.bytes", "By", "Key, value and header bytes of published records.");
        _rejections = meter.CreateCounter<long>("broker.ingest.rejections", "{request}", "Produce requests refused, by reason.");
        _duration = meter.CreateHistogram<double>("messaging.client.operation.duration", "s", "Time from a produce request to its acknowledgement.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    }

    public void Published(string topic, string transport, int records, long bytes, TimeSpan duration)
    {
        var topicTag = new KeyValuePair<string, object?>("messaging.destination.name", topic);
        var transportTag = new KeyValuePair<string, object?>("network.protocol.name", transport);
        _records.Add(records, topicTag, transportTag);
        _bytes.Add(bytes, topicTag, transportTag);
        _duration.Record(duration.TotalSeconds, topicTag, transportTag, new("messaging.operation.name", "publish"));
    }

    public void Rejected(string topic, string transport, ProduceError reason) =>
        _rejections.Add(1, new("messaging.destination.name", topic), new("network.protocol.name", transport), new("reason", ReasonName(reason)));

    private static string ReasonName(ProduceError reason) => reason switch
    {
        ProduceError.InvalidArgument => "invalid_argument",
        ProduceError.RequestTooLarge => "request_too_large",
        ProduceError.TopicNotFound => "topic_not_found",
        ProduceError.Backpressure => "backpressure",
        ProduceError.OutOfOrderSequence => "out_of_order_sequence",
        _ => "unavailable",
    };
}
