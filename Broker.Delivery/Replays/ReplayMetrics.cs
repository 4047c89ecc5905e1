using System.Diagnostics.Metrics;

namespace Broker.Delivery.Replays;

/// <summary>Replay progress as metrics: records and bytes replayed by target kind, and the jobs running on this instance.</summary>
public sealed class ReplayMetrics
{
    public const string MeterName = "Broker.Delivery.Replay";

    private readonly Counter<long> _records;
    private readonly Counter<long> _bytes;
    private readonly UpDownCounter<long> _running;

    public ReplayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _records = meter.CreateCounter<long>("broker.replay.records", "{record}", "Records a replay job delivered to its target.");
        _bytes = meter.CreateCounter<long>("broker.replay.bytes", "By", "Batch bytes a replay job delivered to its target.");
        _running = meter.CreateUpDownCounter<long>("broker.replay.jobs.running", "{job}", "Replay jobs running on this instance.");
    }

    public void Replayed(string target, int records, int bytes)
    {
        var tag = new KeyValuePair<string, object?>("target", target);
        _records.Add(records, tag);
        _bytes.Add(bytes, tag);
    }

    public void JobStarted() => _running.Add(1);

    public void JobEnded() => _running.Add(-1);
}
