using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Broker.Contracts.Storage;
using Grpc.Net.Client;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// One run: create the topic, build the workload, warm both paths up, then per round the baseline and
/// the broker back to back on the same Redis, verify the log, report the best round of each.
/// </summary>
public static class LoadRun
{
    private const int WarmupPasses = 2;
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxQuietWait = TimeSpan.FromSeconds(10);

    public static async Task<Report> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        Progress($"storage {options.Storage}, rest {options.Rest}, redis {options.Redis}; {options.Records} records x {options.RecordBytes} B, " +
                 $"batch {options.Batch}, {options.Partitions} partitions, {options.Concurrency} appends in flight, " +
                 $"{options.Connections} connection(s), codec {options.Codec}, {options.Values} values, " +
                 $"XADD window {options.Window}, {options.Rounds} rounds, topic {options.Topic}");

        using var http = new HttpClient { BaseAddress = options.Rest, Timeout = TimeSpan.FromSeconds(30) };
        var created = await CreateTopicAsync(http, options, cancellationToken);

        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true; // INFO cpu, for the cores redis-server used per round
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var channels = new GrpcChannel[options.Connections];
        for (var c = 0; c < channels.Length; c++)
        {
            channels[c] = GrpcChannel.ForAddress(options.Storage, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = true,
                    PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                },
                MaxSendMessageSize = 64 * 1024 * 1024,
                MaxReceiveMessageSize = 64 * 1024 * 1024,
            });
        }
        using var disposeChannels = new ChannelsDisposer(channels);
        LogService.LogServiceClient[] clients = [.. channels.Select(c => new LogService.LogServiceClient(c))];

        Progress("building the workload");
        var workload = Workload.Create(options);
        var cpu = new CpuSampler(redis, options.StoragePid);
        var baseline = new RedisXaddBaseline(redis, options, workload, cpu);
        var broker = new StorageAppender(clients, options, workload, cpu);
        var endOffsetsBefore = await broker.EndOffsetsAsync(cancellationToken);

        var warmRecords = Math.Max(1, (int)(options.Records * options.Warmup));
        var warmBatches = Math.Min(workload.Batches.Count, Math.Max(options.Concurrency, (warmRecords + options.Batch - 1) / options.Batch));
        Progress($"warm-up: {WarmupPasses} x ({warmRecords} XADDs, {warmBatches} appends), not counted");
        // Twice, with a pause: tiered compilation (with PGO) promotes hot code in steps, each after a quiet
        // spell, in the load generator and in Storage alike. Background work a phase sets off (re-compiles,
        // GC) must not land on the next one, so every timed phase also starts after a quiet wait.
        for (var pass = 0; pass < WarmupPasses; pass++)
        {
            await baseline.RunAsync(warmRecords, cancellationToken);
            await broker.RunAsync(warmBatches, cancellationToken);
            await Task.Delay(s_settle, cancellationToken);
        }

        var baselineRounds = new List<RoundResult>();
        var brokerRounds = new List<RoundResult>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            await Quiet(cpu, cancellationToken);
            var b = await baseline.RunAsync(options.Records, cancellationToken);
            baselineRounds.Add(b);
            Progress($"round {round}: baseline {b.RecordsPerSec,10:N0} records/s in {b.Elapsed.TotalSeconds:0.00} s  cores: {b.Cpu}");
            await Quiet(cpu, cancellationToken);
            var s = await broker.RunAsync(workload.Batches.Count, cancellationToken);
            brokerRounds.Add(s);
            Progress($"round {round}: broker   {s.RecordsPerSec,10:N0} records/s in {s.Elapsed.TotalSeconds:0.00} s  " +
                     $"p50 {s.PercentileMs(0.5):0.00} ms p99 {s.PercentileMs(0.99):0.00} ms  cores: {s.Cpu}");
        }

        await broker.VerifyAsync(endOffsetsBefore, cancellationToken);
        Progress($"verified: partition end offsets grew by exactly the {broker.AppendedPerPartition.Sum()} records appended");
        // A topic this run did not create is someone else's: never delete it.
        if (created && !options.KeepTopic)
        {
            using var deleted = await http.DeleteAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative), cancellationToken);
        }

        var bestBaseline = baselineRounds.MaxBy(r => r.RecordsPerSec)!;
        var bestBroker = brokerRounds.MaxBy(r => r.RecordsPerSec)!;
        return new Report(
            Scenario: "storage-append",
            Records: options.Records,
            RecordBytes: options.RecordBytes,
            Batch: options.Batch,
            Baseline: new BaselineReport(RedisXaddBaseline.Name, Math.Round(bestBaseline.RecordsPerSec),
                [.. baselineRounds.Select(r => Math.Round(r.RecordsPerSec))], bestBaseline.Cpu),
            Broker: new BrokerReport(Math.Round(bestBroker.RecordsPerSec),
                Math.Round(bestBroker.PercentileMs(0.5), 3), Math.Round(bestBroker.PercentileMs(0.99), 3),
                [.. brokerRounds.Select(r => Math.Round(r.RecordsPerSec))],
                Math.Round(bestBroker.PercentileMs(0.999), 3), Math.Round(bestBroker.PercentileMs(1), 3), bestBroker.Cpu),
            Ratio: Math.Round(bestBroker.RecordsPerSec / bestBaseline.RecordsPerSec, 3),
            Aggregate: $"best-of-{options.Rounds}",
            Rounds: options.Rounds,
            Partitions: options.Partitions,
            Concurrency: options.Concurrency,
            Window: options.Window,
            Connections: options.Connections,
            Codec: options.Codec.ToString().ToLowerInvariant(),
            Values: options.Values,
            Topic: options.Topic,
            Verified: true,
            Processors: Environment.ProcessorCount);
    }

    private static async Task Quiet(CpuSampler cpu, CancellationToken cancellationToken)
    {
        var waited = await cpu.WaitForQuietAsync(s_maxQuietWait, cancellationToken);
        if (waited >= s_maxQuietWait)
        {
            Progress($"redis-server or Storage still busy after {waited.TotalSeconds:0.0} s; timing anyway");
        }
    }

    /// <summary>Creates the topic; answers false when it existed already.</summary>
    private static async Task<bool> CreateTopicAsync(HttpClient http, LoadGenOptions options, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["partitions"] = options.Partitions };
        using var response = await http.PutAsJsonAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative), body, cancellationToken);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            var detail = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"PUT /v1/topics/{options.Topic} answered {(int)response.StatusCode}: {detail}");
        }
        var created = response.StatusCode == HttpStatusCode.Created;
        Progress($"topic {options.Topic}: {(created ? "created" : "exists already")}, {options.Partitions} partitions");
        return created;
    }

    private sealed class ChannelsDisposer(GrpcChannel[] channels) : IDisposable
    {
        public void Dispose()
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    public static void Progress(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
