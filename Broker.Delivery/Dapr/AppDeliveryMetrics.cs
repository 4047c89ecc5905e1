using System.Diagnostics.Metrics;
using Broker.Delivery.Telemetry;

namespace Broker.Delivery.Dapr;

/// <summary>Delivery to Dapr apps: the apps' answers by status, how long calls take, and events no route took. Tags: app id and topic.</summary>
public sealed class AppDeliveryMetrics
{
    private readonly Counter<long> _answers;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _unrouted;
    private readonly UpDownCounter<long> _subscriptions;

    public AppDeliveryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(DeliveryTelemetry.Name);
        _answers = meter.CreateCounter<long>("broker.delivery.dapr.app.answers", "{message}", "Events answered by Dapr apps, by status (success, retry, drop).");
        _duration = meter.CreateHistogram<double>("broker.delivery.dapr.app.call.duration", "s", "Time of one call to a Dapr app (one event, or one bulk).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _unrouted = meter.CreateCounter<long>("broker.delivery.dapr.unrouted", "{message}", "Events no rule of the subscription matched and with no default route: acked unsent, as daprd does.");
        _subscriptions = meter.CreateUpDownCounter<long>("broker.delivery.dapr.subscriptions", "{subscription}", "App subscriptions this instance delivers.");
    }

    public void Called(string appId, string topic, TimeSpan duration, AppAnswer[] answers)
    {
        var app = new KeyValuePair<string, object?>("dapr.app.id", appId);
        var destination = new KeyValuePair<string, object?>("messaging.destination.name", topic);
        _duration.Record(duration.TotalSeconds, app, destination);
        foreach (var answer in answers)
        {
            _answers.Add(1, app, destination, new("status", answer.Status switch
            {
                AppStatus.Success => "success",
                AppStatus.Retry => "retry",
                _ => "drop",
            }));
        }
    }

    public void Unrouted(string appId, string topic) =>
        _unrouted.Add(1, new("dapr.app.id", appId), new("messaging.destination.name", topic));

    public void SubscriptionStarted() => _subscriptions.Add(1);

    public void SubscriptionStopped() => _subscriptions.Add(-1);
}
