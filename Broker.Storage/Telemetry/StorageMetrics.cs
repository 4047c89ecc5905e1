using System.Diagnostics.Metrics;

namespace Broker.Storage.Telemetry;

/// <summary>
/// Storage's instruments, named after the OpenTelemetry messaging conventions where they apply. Tags are
/// bounded: the topic name (topics are created by operators) and a fixed set of rejection reasons.
/// </summary>
public sealed class StorageMetrics
{
    public const string MeterName = "Broker.Storage";

    private readonly Counter<long> _appendedRecords;
    private readonly Counter<long> _appendedBytes;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _rejections;
    private readonly Histogram<double> _appendDuration;
    private readonly Counter<long> _readRecords;
    private readonly Counter<long> _readBytes;
    private readonly Counter<long> _retentionRemoved;
    private readonly Histogram<double> _replicaWaitDuration;
    private readonly Histogram<long> _replicaWaitAppends;
    private readonly Counter<long> _replicaWaitFailures;

    public StorageMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _appendedRecords = meter.CreateCounter<long>("broker.storage.appended.records", "{record}", "Records appended to the log.");
        _appendedBytes = meter.CreateCounter<long>("broker.storage.appended.bytes", "By", "Encoded batch bytes appended to the log.");
        _duplicates = meter.CreateCounter<long>("broker.storage.append.duplicates", "{batch}", "Idempotent retries answered with their original offsets.");
        _rejections = meter.CreateCounter<long>("broker.storage.append.rejections", "{batch}", "Appends refused, by reason.");
        _appendDuration = meter.CreateHistogram<double>("broker.storage.append.duration", "s", "Time to validate and append one batch.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        _readRecords = meter.CreateCounter<long>("broker.storage.read.records", "{record}", "Records returned by reads.");
        _readBytes = meter.CreateCounter<long>("broker.storage.read.bytes", "By", "Batch bytes returned by reads.");
        _retentionRemoved = meter.CreateCounter<long>("broker.storage.retention.removed", "{batch}", "Batches removed by retention.");
        _replicaWaitDuration = meter.CreateHistogram<double>("broker.storage.replica_wait.duration", "s",
            "Time from sending a group of acks=replicas appends to the replicas' confirmation (one Redis WAIT per group).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _replicaWaitAppends = meter.CreateHistogram<long>("broker.storage.replica_wait.appends", "{batch}",
            "Appends one Redis WAIT confirmed at once (the group commit's size).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });
        _replicaWaitFailures = meter.CreateCounter<long>("broker.storage.replica_wait.failures", "{wait}",
            "Redis WAITs that did not confirm their group: too few replicas in time (timeout), or the connection broke (reconnected).");
    }

    public void Appended(string topic, int records, int bytes, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("messaging.destination.name", topic);
        _appendedRecords.Add(records, tag);
        _appendedBytes.Add(bytes, tag);
        _appendDuration.Record(duration.TotalSeconds, tag);
    }

    public void Duplicate(string topic) => _duplicates.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));

    public void Rejected(string topic, string reason) =>
        _rejections.Add(1, new("messaging.destination.name", topic), new("reason", reason));

    public void Read(string topic, long records, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("messaging.destination.name", topic);
        _readRecords.Add(records, tag);
        _readBytes.Add(bytes, tag);
    }

    public void ReplicaWait(int appends, TimeSpan duration)
    {
        _replicaWaitDuration.Record(duration.TotalSeconds);
        _replicaWaitAppends.Record(appends);
    }

    /// <summary><paramref name="reason"/>: "timeout" or "reconnected".</summary>
    public void ReplicaWaitFailed(string reason) => _replicaWaitFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RetentionRemoved(string topic, int batches) =>
        _retentionRemoved.Add(batches, new KeyValuePair<string, object?>("messaging.destination.name", topic));
}
