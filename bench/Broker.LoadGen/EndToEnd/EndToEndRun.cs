using System.Text.Json.Serialization;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using StackExchange.Redis;

namespace Broker.LoadGen.EndToEnd;

/// <summary>
/// produce-deliver: end to end, producer to consumer, for the broker and the Redis Streams baseline in one
/// run, and the broker a second time through Broker.Client's producer and consumer. Per path: a warm-up, --rounds runs at full speed (throughput: records over first send to last
/// receipt; the best round counts), then each --rates rate for --rate-seconds (latency percentiles).
/// </summary>
public static class EndToEndRun
{
    public static async Task<EndToEndReport> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        LoadRun.Progress($"scenario {options.Scenario}: ingest {options.Ingest}, delivery {options.Delivery}, redis {options.Redis}; " +
                         $"{options.Records} records x {options.RecordBytes} B, batch {options.Batch}, {options.Partitions} partitions, " +
                         $"concurrency {options.Concurrency}, consumer window {options.ConsumerWindow}, rates {string.Join(",", options.Rates)} for {options.RateSeconds} s");
        using var rest = new HttpClient { BaseAddress = options.Rest, Timeout = TimeSpan.FromSeconds(30) };
        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        using var ingestChannel = LoadRun.NewChannel(options.Ingest);
        using var deliveryChannel = LoadRun.NewChannel(options.Delivery);
        var workload = Workload.Create(options);
        var cpu = new CpuSampler(redis, options.StoragePid, options.IngestPid, options.DeliveryPid);

        await using var baseline = new RedisStreamsPubSub(redis, options, workload, cpu);
        await using var broker = new BrokerPubSub(rest, new ProduceService.ProduceServiceClient(ingestChannel),
            new DeliveryService.DeliveryServiceClient(deliveryChannel), options, workload, cpu);
        await using var client = new BrokerClientPubSub(options, workload, cpu);
        IPubSubPath[] paths = [baseline, broker, client];

        var warm = Math.Max(1000, (int)(options.Records * options.Warmup));
        foreach (var path in paths)
        {
            for (var pass = 0; pass < 2; pass++)
            {
                await path.StartAsync(cancellationToken);
                await path.RunMaxAsync(warm, cancellationToken);
            }
            LoadRun.Progress($"{path.Name}: warmed up with 2 x {warm} records");
        }

        var maxRuns = paths.ToDictionary(p => p.Name, _ => new List<PubSubResult>());
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var path in paths)
            {
                await LoadRun.QuietAsync(cpu, cancellationToken);
                await path.StartAsync(cancellationToken);
                var result = await path.RunMaxAsync(options.Records, cancellationToken);
                maxRuns[path.Name].Add(result);
                LoadRun.Progress($"round {round}: {path.Name,-36} {result.RecordsPerSec,10:N0} records/s  p50 {result.PercentileMs(0.5):0.00} ms  " +
                                 $"p99 {result.PercentileMs(0.99):0.00} ms  duplicates {result.Duplicates}  cores: {result.Cpu}");
            }
        }

        var rateRuns = paths.ToDictionary(p => p.Name, _ => new List<RateReport>());
        foreach (var rate in options.Rates)
        {
            foreach (var path in paths)
            {
                await LoadRun.QuietAsync(cpu, cancellationToken);
                await path.StartAsync(cancellationToken);
                var result = await path.RunRateAsync(rate, TimeSpan.FromSeconds(options.RateSeconds), cancellationToken);
                if (Environment.GetEnvironmentVariable("LOADGEN_DUMP") is { } dump)
                {
                    await File.WriteAllLinesAsync($"{dump}-{path.Name}-{rate}.txt", result.Latencies.Select(l => (l * 1000.0 / System.Diagnostics.Stopwatch.Frequency).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)), cancellationToken);
                }
                rateRuns[path.Name].Add(new RateReport(rate, result.Records, Ms(result, 0.5), Ms(result, 0.99), Ms(result, 0.999), Ms(result, 1), result.Cpu));
                LoadRun.Progress($"{rate,6} records/s: {path.Name,-36} p50 {result.PercentileMs(0.5):0.00} ms  p99 {result.PercentileMs(0.99):0.00} ms  " +
                                 $"max {result.PercentileMs(1):0.00} ms  cores: {result.Cpu}");
            }
        }

        PathReport Report(IPubSubPath path)
        {
            var best = maxRuns[path.Name].MaxBy(r => r.RecordsPerSec)!;
            return new PathReport(path.Name, Math.Round(best.RecordsPerSec), Math.Round(best.RecordsPerSec * options.RecordBytes / 1_000_000, 1),
                Ms(best, 0.5), Ms(best, 0.99), [.. maxRuns[path.Name].Select(r => Math.Round(r.RecordsPerSec))], best.Cpu,
                maxRuns[path.Name].Sum(r => r.Duplicates), rateRuns[path.Name]);
        }
        var baselineReport = Report(baseline);
        var brokerReport = Report(broker);
        var clientReport = Report(client);
        return new EndToEndReport(options.Scenario, options.Records, options.RecordBytes, options.Batch, baselineReport, brokerReport,
            Math.Round(brokerReport.RecordsPerSec / baselineReport.RecordsPerSec, 3), clientReport,
            Math.Round(clientReport.RecordsPerSec / brokerReport.RecordsPerSec, 3), $"best-of-{options.Rounds}", options.Rounds,
            options.Partitions, options.Concurrency, options.ConsumerWindow, options.Values, Environment.ProcessorCount);
    }

    private static double Ms(PubSubResult result, double q) => Math.Round(result.PercentileMs(q), 3);
}

/// <summary>
/// The JSON line of produce-deliver: the same head as the other scenarios (scenario … ratio), then the broker through
/// Broker.Client and its throughput over the hand-written streams' (<c>clientVsHandWritten</c>), then detail.
/// </summary>
public sealed record EndToEndReport(
    string Scenario,
    int Records,
    int RecordBytes,
    int Batch,
    PathReport Baseline,
    PathReport Broker,
    double Ratio,
    PathReport Client,
    double ClientVsHandWritten,
    string Aggregate,
    int Rounds,
    int Partitions,
    int Concurrency,
    int ConsumerWindow,
    string Values,
    int Processors);

/// <summary>
/// One path: throughput of its best full-speed round (records over first send to last receipt), that round's
/// end-to-end latency, and the latency at each fixed rate.
/// </summary>
public sealed record PathReport(
    string Name,
    double RecordsPerSec,
    double MbPerSec,
    double P50Ms,
    double P99Ms,
    IReadOnlyList<double> RoundsRecordsPerSec,
    CpuReport Cpu,
    long Duplicates,
    IReadOnlyList<RateReport> Rates);

public sealed record RateReport(int Rate, long Records, double P50Ms, double P99Ms, double P999Ms, double MaxMs, CpuReport Cpu);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EndToEndReport))]
internal sealed partial class EndToEndJsonContext : JsonSerializerContext;
