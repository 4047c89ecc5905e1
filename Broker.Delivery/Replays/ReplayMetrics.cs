using System.Diagnostics.Metrics;

namespace Broker.Delivery.Replays;

/// <summary>
/// Replay progress as metrics: records and bytes replayed by target kind, the jobs running on this instance, and the
/// runs that found another instance had taken their job (by how they found out: a renewal, or a refused write).
/// </summary>
public sealed class ReplayMetrics
{
    public const string MeterName = "Broker.Delivery.Replay";

    private readonly Counter<long> _records;
    private readonly Counter<long> _bytes;
    private readonly UpDownCounter<long> _running;
    private readonly Counter<long> _leasesLost;

    public ReplayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _records = meter.CreateCounter<long>("broker.replay.records", "{record}", "Records a replay job delivered to its target.");
        _bytes = meter.CreateCounter<long>("broker.replay.bytes", "By", "Batch bytes a replay job delivered to its target.");
        _running = meter.CreateUpDownCounter<long>("broker.replay.jobs.running", "{job}", "Replay jobs running on this instance.");
        _leasesLost = meter.CreateCounter<long>("broker.replay.leases_lost", "{run}",
            "Runs of a replay job stopped because another instance took the job's lease (this one was paused or cut off past it).");
    }

    public void Replayed(string target, int records, int bytes)
    {
        var tag = new KeyValuePair<string, object?>("target", target);
        _records.Add(records, tag);
        _bytes.Add(bytes, tag);
    }

    public void JobStarted() => _running.Add(1);

    public void JobEnded() => _running.Add(-1);

    /// <param name="how">"renewal" (a renewal found another holder) or "fenced" (a write was refused for a stale epoch).</param>
    public void LeaseLost(string how) => _leasesLost.Add(1, new KeyValuePair<string, object?>("reason", how));
}
