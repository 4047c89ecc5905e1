using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Broker.Client.Telemetry;

/// <summary>
/// The client's spans and metrics, both named <c>Broker.Client</c>, after OpenTelemetry's messaging semantic
/// conventions: a <c>send {topic}</c> producer span per record (its context travels in the record's <c>traceparent</c>
/// header), <c>receive</c> and <c>process {topic}</c> consumer spans that continue it.
/// </summary>
public static class ClientTelemetry
{
    /// <summary>The name of the client's <see cref="ActivitySource"/> and <see cref="Meter"/>: what OpenTelemetry is told to listen to.</summary>
    public const string Name = "Broker.Client";

    internal const string System = "broker";

    internal static readonly ActivitySource Source = new(Name, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());

    internal static readonly Meter Meter = new(Name, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());

    internal static readonly Counter<long> SentMessages = Meter.CreateCounter<long>("messaging.client.sent.messages", "{message}", "Records the producer had confirmed or refused.");

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>("messaging.client.operation.duration", "s",
        "From produce to confirmation, per record.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] });

    internal static readonly Counter<long> Resends = Meter.CreateCounter<long>("broker.client.producer.resends", "{batch}",
        "Batches the producer sent again after a failure a retry can mend (a broken stream, UNAVAILABLE, RESOURCE_EXHAUSTED, out of order).");

    internal static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>("messaging.client.consumed.messages", "{message}", "Records the consumer received.");

    internal static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram<double>("messaging.process.duration", "s",
        "How long a handler took with a record.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] });

    /// <summary>A producer span for one record, or null when nobody listens.</summary>
    internal static Activity? StartSend(string topic)
    {
        // The span lives until the record is confirmed; the caller's own span stays the current one meanwhile.
        var caller = Activity.Current;
        var activity = Source.StartActivity($"send {topic}", ActivityKind.Producer);
        Activity.Current = caller;
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.operation.name", "send");
            activity.SetTag("messaging.destination.name", topic);
        }
        return activity;
    }

    /// <summary>A consumer span for one record, continuing the producer's trace from its traceparent header.</summary>
    internal static Activity? StartProcess(string topic, string group, string? traceParent, int partition, long offset, int attempt)
    {
        ActivityContext.TryParse(traceParent, null, out var parent);
        var activity = Source.StartActivity($"process {topic}", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "process");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.consumer.group.name", group);
            activity.SetTag("messaging.destination.partition.id", partition.ToString(global::System.Globalization.CultureInfo.InvariantCulture));
            activity.SetTag("messaging.kafka.offset", offset);
            activity.SetTag("messaging.message.delivery_attempt", attempt);
        }
        return activity;
    }
}
