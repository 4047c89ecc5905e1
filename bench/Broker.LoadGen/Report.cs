using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;

namespace Broker.LoadGen;

/// <summary>One timed round of one path.</summary>
public sealed record RoundResult(long Records, TimeSpan Elapsed, CpuReport Cpu, long[]? Latencies)
{
    public double RecordsPerSec => Records / Elapsed.TotalSeconds;

    /// <summary>Megabytes (10^6 bytes) of record values per second: <paramref name="recordBytes"/> per record.</summary>
    public double MbPerSec(int recordBytes) => Math.Round(RecordsPerSec * recordBytes / 1_000_000, 1);

    /// <summary>The latency at quantile <paramref name="q"/> in milliseconds (nearest rank).</summary>
    public double PercentileMs(double q)
    {
        if (Latencies is not { Length: > 0 })
        {
            return double.NaN;
        }
        var sorted = Latencies.ToArray();
        Array.Sort(sorted);
        var rank = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[rank] * 1000.0 / Stopwatch.Frequency;
    }
}

/// <summary>
/// Cores each process used during a round (null where it could not be measured); <c>Other</c> is the rest of
/// the machine's busy time, <c>Steal</c> the time the hypervisor gave to other guests: a round where either
/// is high was disturbed.
/// </summary>
public sealed record CpuReport(double Redis, double? Storage, double? Ingest, double LoadGen, double? Other, double? Steal, double? Delivery = null)
{
    public override string ToString() => FormattableString.Invariant(
        $"redis {Redis:0.00}, storage {Format(Storage)}, ingest {Format(Ingest)}, delivery {Format(Delivery)}, loadgen {LoadGen:0.00}, other {Format(Other)}, steal {Format(Steal)}");

    private static string Format(double? cores) => cores is { } c ? c.ToString("0.00", CultureInfo.InvariantCulture) : "?";
}

/// <summary>
/// The JSON line: the agreed head (scenario … ratio) first, extra detail after it. Throughput is the
/// best round of each path (<see cref="Aggregate"/>), the broker's percentiles are from its best round. ingest-client
/// adds the hand-written stream's best round (<c>HandWritten</c>, latencies per request) and the client's throughput
/// over it (<c>ClientVsHandWritten</c>; the client's latencies are per record, Produce to confirmation).
/// </summary>
public sealed record Report(
    string Scenario,
    int Records,
    int RecordBytes,
    int Batch,
    BaselineReport Baseline,
    BrokerReport Broker,
    double Ratio,
    string Aggregate,
    int Rounds,
    int Partitions,
    int Concurrency,
    int Window,
    int Connections,
    string Codec,
    string Values,
    string Topic,
    bool Verified,
    int Processors,
    BrokerReport? HandWritten = null,
    double? ClientVsHandWritten = null);

public sealed record BaselineReport(string Name, double RecordsPerSec, double MbPerSec, IReadOnlyList<double> RoundsRecordsPerSec, CpuReport Cpu);

/// <summary>
/// The broker path's best round; <c>Refused</c> counts refusals by status over the whole run (warm-up
/// included), <c>Retried</c> the requests sent again after one.
/// </summary>
public sealed record BrokerReport(
    double RecordsPerSec,
    double MbPerSec,
    double P50Ms,
    double P99Ms,
    IReadOnlyList<double> RoundsRecordsPerSec,
    double P999Ms,
    double MaxMs,
    CpuReport Cpu,
    IReadOnlyDictionary<string, long> Refused,
    long Retried);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Report))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
