using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Broker.Storage.Telemetry;

/// <summary>
/// The cold tier's instruments: segment store requests by operation (PUTs and GETs are what S3 bills),
/// segments and bytes tiered, how much waits in the hot tier to be tiered, cold reads and the chunk
/// cache's hits and misses. Tags: topic, operation, store kind; partitions only on the lag gauges.
/// </summary>
public sealed class TieringMetrics
{
    public const string MeterName = "Broker.Storage.Tiering";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _requestFailures;
    private readonly Counter<long> _requestBytes;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _segmentsUploaded;
    private readonly Counter<long> _bytesUploaded;
    private readonly Counter<long> _segmentsDeleted;
    private readonly Counter<long> _orphansDeleted;
    private readonly Counter<long> _segmentReads;
    private readonly Counter<long> _cacheHits;
    private readonly Counter<long> _cacheMisses;
    private readonly ConcurrentDictionary<(string Topic, int Partition), (long Bytes, double AgeSeconds)> _lag = new();

    public TieringMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("broker.segments.requests", "{request}", "Segment store requests by operation (put, get, delete): S3's billed requests.");
        _requestFailures = meter.CreateCounter<long>("broker.segments.request.failures", "{request}", "Segment store requests that failed (each retry counts).");
        _requestBytes = meter.CreateCounter<long>("broker.segments.request.bytes", "By", "Bytes written (put) or read (get) from the segment store.");
        _requestDuration = meter.CreateHistogram<double>("broker.segments.request.duration", "s", "Time of one segment store request.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _segmentsUploaded = meter.CreateCounter<long>("broker.tiering.segments", "{segment}", "Segments written to the cold tier.");
        _bytesUploaded = meter.CreateCounter<long>("broker.tiering.bytes", "By", "Segment bytes written to the cold tier.");
        _segmentsDeleted = meter.CreateCounter<long>("broker.retention.segments_deleted", "{segment}", "Segments deleted by retention.");
        _orphansDeleted = meter.CreateCounter<long>("broker.segments.orphans_deleted", "{object}", "Segment objects no manifest named, deleted by the orphan sweep.");
        _segmentReads = meter.CreateCounter<long>("broker.cold.reads", "{read}", "Reads served from the cold tier.");
        _cacheHits = meter.CreateCounter<long>("broker.cold.cache.hits", "{chunk}", "Segment chunks found in the local cache.");
        _cacheMisses = meter.CreateCounter<long>("broker.cold.cache.misses", "{chunk}", "Segment chunks fetched from the store.");
        meter.CreateObservableGauge("broker.tiering.lag.bytes", () => Lag(l => l.Bytes), "By", "Hot-tier bytes past the topic's budget, waiting to be tiered.");
        meter.CreateObservableGauge("broker.tiering.lag.age", () => Lag(l => l.AgeSeconds), "s", "Age of the oldest batch waiting to be tiered.");
    }

    public void Request(string kind, string operation, long bytes, TimeSpan duration, bool failed)
    {
        var store = new KeyValuePair<string, object?>("store", kind);
        var op = new KeyValuePair<string, object?>("operation", operation);
        _requests.Add(1, store, op);
        _requestDuration.Record(duration.TotalSeconds, store, op);
        if (failed)
        {
            _requestFailures.Add(1, store, op);
        }
        else if (bytes > 0)
        {
            _requestBytes.Add(bytes, store, op);
        }
    }

    public void Uploaded(string topic, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("messaging.destination.name", topic);
        _segmentsUploaded.Add(1, tag);
        _bytesUploaded.Add(bytes, tag);
    }

    public void OrphanDeleted() => _orphansDeleted.Add(1);

    public void SegmentDeleted(string topic) => _segmentsDeleted.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));

    public void ColdRead(string topic) => _segmentReads.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));

    public void CacheHit() => _cacheHits.Add(1);

    public void CacheMiss() => _cacheMisses.Add(1);

    /// <summary>What waits to be tiered in a partition now; zero bytes removes it from the gauges.</summary>
    public void SetLag(string topic, int partition, long bytes, double ageSeconds)
    {
        if (bytes <= 0)
        {
            _lag.TryRemove((topic, partition), out _);
        }
        else
        {
            _lag[(topic, partition)] = (bytes, ageSeconds);
        }
    }

    private IEnumerable<Measurement<double>> Lag(Func<(long Bytes, double AgeSeconds), double> pick) =>
        _lag.Select(entry => new Measurement<double>(pick(entry.Value),
            new KeyValuePair<string, object?>("messaging.destination.name", entry.Key.Topic),
            new KeyValuePair<string, object?>("messaging.destination.partition.id", entry.Key.Partition)));
}
