using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Broker.Contracts.Batches;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using Grpc.Net.Client;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// One run: create the topic, build the workload, warm both paths up, then per round the baseline and
/// the broker (Storage's Append, or Ingest's produce API: <see cref="LoadGenOptions.Scenario"/>) back to
/// back on the same Redis, verify the log, report the best round of each.
/// </summary>
public static class LoadRun
{
    private const int WarmupPasses = 2;
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxQuietWait = TimeSpan.FromSeconds(10);

    public static async Task<Report> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        var ingestEndpoint = options.Scenario switch
        {
            LoadGenOptions.IngestGrpc or LoadGenOptions.IngestClient => $", ingest {options.Ingest}",
            LoadGenOptions.IngestHttp => $", ingest-rest {options.IngestRest}",
            _ => "",
        };
        Progress($"scenario {options.Scenario}: storage {options.Storage}, rest {options.Rest}{ingestEndpoint}, redis {options.Redis}; " +
                 $"{options.Records} records x {options.RecordBytes} B, " +
                 $"batch {options.Batch}, {options.Partitions} partitions, concurrency {options.Concurrency}, " +
                 $"{options.Connections} connection(s), codec {options.Codec}, {options.Values} values, " +
                 $"XADD window {options.Window}, {options.Rounds} rounds, topic {options.Topic}");

        using var http = new HttpClient { BaseAddress = options.Rest, Timeout = TimeSpan.FromSeconds(30) };
        var created = await CreateTopicAsync(http, options, cancellationToken);

        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true; // INFO cpu, for the cores redis-server used per round
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        // Storage: the appends of storage-append (over --connections channels), DescribeTopic for every scenario.
        var channels = new GrpcChannel[options.Scenario == LoadGenOptions.StorageAppend ? options.Connections : 1];
        for (var c = 0; c < channels.Length; c++)
        {
            channels[c] = NewChannel(options.Storage);
        }
        using var disposeChannels = new ChannelsDisposer(channels);
        LogService.LogServiceClient[] clients = [.. channels.Select(c => new LogService.LogServiceClient(c))];
        // Ingest: one channel (HTTP/2 connection) per produce stream, or an HTTP/1.1 pool for the POSTs.
        var ingestChannels = new GrpcChannel[options.Scenario is LoadGenOptions.IngestGrpc or LoadGenOptions.IngestClient ? options.Connections : 0];
        for (var c = 0; c < ingestChannels.Length; c++)
        {
            ingestChannels[c] = NewChannel(options.Ingest);
        }
        using var disposeIngestChannels = new ChannelsDisposer(ingestChannels);
        using var ingestHttp = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Concurrency,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        })
        {
            BaseAddress = options.IngestRest,
            Timeout = TimeSpan.FromSeconds(30),
        };

        Progress("building the workload");
        var workload = Workload.Create(options);
        var cpu = new CpuSampler(redis, options.StoragePid, options.IngestPid);
        var baseline = new RedisXaddBaseline(redis, options, workload, cpu);
        IProducePath HandWritten() => new IngestGrpcProducer([.. ingestChannels.Select(c => new ProduceService.ProduceServiceClient(c))], options, workload, cpu);
        IProducePath broker = options.Scenario switch
        {
            LoadGenOptions.IngestGrpc => HandWritten(),
            LoadGenOptions.IngestHttp => new IngestHttpProducer(ingestHttp, options, workload, cpu),
            LoadGenOptions.IngestClient => new IngestClientProducer(options, workload, cpu),
            _ => new StorageAppender(clients, options, workload, cpu),
        };
        // ingest-client: the hand-written gRPC stream the client replaces runs in the same rounds, as its reference.
        var reference = options.Scenario == LoadGenOptions.IngestClient ? HandWritten() : null;
        var check = new TopicCheck(clients[0], options);
        var endOffsetsBefore = await check.EndOffsetsAsync(cancellationToken);

        var warmRecords = Math.Max(1, (int)(options.Records * options.Warmup));
        var warmBatches = Math.Min(workload.BatchCount, Math.Max(options.Concurrency, (warmRecords + options.Batch - 1) / options.Batch));
        Progress($"warm-up: {WarmupPasses} x ({warmRecords} XADDs, {warmBatches} {(options.ThroughIngest ? "produce requests" : "appends")}), not counted");
        // Twice, with a pause: tiered compilation (with PGO) promotes hot code in steps, each after a quiet
        // spell, in the load generator and in Storage alike. Background work a phase sets off (re-compiles,
        // GC) must not land on the next one, so every timed phase also starts after a quiet wait.
        for (var pass = 0; pass < WarmupPasses; pass++)
        {
            await baseline.RunAsync(warmRecords, cancellationToken);
            await broker.RunAsync(warmBatches, cancellationToken);
            if (reference is not null)
            {
                await reference.RunAsync(warmBatches, cancellationToken);
            }
            await Task.Delay(s_settle, cancellationToken);
        }

        var baselineRounds = new List<RoundResult>();
        var brokerRounds = new List<RoundResult>();
        var referenceRounds = new List<RoundResult>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            await Quiet(cpu, cancellationToken);
            var b = await baseline.RunAsync(options.Records, cancellationToken);
            baselineRounds.Add(b);
            Progress($"round {round}: baseline {b.RecordsPerSec,10:N0} records/s in {b.Elapsed.TotalSeconds:0.00} s  cores: {b.Cpu}");
            if (reference is not null)
            {
                await Quiet(cpu, cancellationToken);
                var r = await reference.RunAsync(workload.BatchCount, cancellationToken);
                referenceRounds.Add(r);
                Progress($"round {round}: hand-written {r.RecordsPerSec,10:N0} records/s in {r.Elapsed.TotalSeconds:0.00} s  " +
                         $"p50 {r.PercentileMs(0.5):0.00} ms p99 {r.PercentileMs(0.99):0.00} ms (per request)  cores: {r.Cpu}");
            }
            await Quiet(cpu, cancellationToken);
            var s = await broker.RunAsync(workload.BatchCount, cancellationToken);
            brokerRounds.Add(s);
            Progress($"round {round}: broker   {s.RecordsPerSec,10:N0} records/s in {s.Elapsed.TotalSeconds:0.00} s  " +
                     $"p50 {s.PercentileMs(0.5):0.00} ms p99 {s.PercentileMs(0.99):0.00} ms  cores: {s.Cpu}");
        }

        IReadOnlyList<long> written = reference is null ? broker.Tally.PerPartition
            : [.. broker.Tally.PerPartition.Zip(reference.Tally.PerPartition, (a, b) => a + b)];
        await check.VerifyAsync(endOffsetsBefore, written, cancellationToken);
        Progress($"verified: partition end offsets grew by exactly the {written.Sum()} records written " +
                 $"({broker.Tally.Retried} requests sent again after a refusal)");
        if (broker is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        // A topic this run did not create is someone else's: never delete it.
        if (created && !options.KeepTopic)
        {
            using var deleted = await http.DeleteAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative), cancellationToken);
        }

        var bestBaseline = baselineRounds.MaxBy(r => r.RecordsPerSec)!;
        var bestBroker = brokerRounds.MaxBy(r => r.RecordsPerSec)!;
        var bestReference = referenceRounds.MaxBy(r => r.RecordsPerSec);
        return new Report(
            Scenario: options.Scenario,
            Records: options.Records,
            RecordBytes: options.RecordBytes,
            Batch: options.Batch,
            Baseline: new BaselineReport(RedisXaddBaseline.Name, Math.Round(bestBaseline.RecordsPerSec), bestBaseline.MbPerSec(options.RecordBytes),
                [.. baselineRounds.Select(r => Math.Round(r.RecordsPerSec))], bestBaseline.Cpu),
            Broker: new BrokerReport(Math.Round(bestBroker.RecordsPerSec), bestBroker.MbPerSec(options.RecordBytes),
                Math.Round(bestBroker.PercentileMs(0.5), 3), Math.Round(bestBroker.PercentileMs(0.99), 3),
                [.. brokerRounds.Select(r => Math.Round(r.RecordsPerSec))],
                Math.Round(bestBroker.PercentileMs(0.999), 3), Math.Round(bestBroker.PercentileMs(1), 3), bestBroker.Cpu,
                broker.Tally.Refused, broker.Tally.Retried),
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
            Processors: Environment.ProcessorCount,
            HandWritten: bestReference is null ? null : new BrokerReport(Math.Round(bestReference.RecordsPerSec), bestReference.MbPerSec(options.RecordBytes),
                Math.Round(bestReference.PercentileMs(0.5), 3), Math.Round(bestReference.PercentileMs(0.99), 3),
                [.. referenceRounds.Select(r => Math.Round(r.RecordsPerSec))],
                Math.Round(bestReference.PercentileMs(0.999), 3), Math.Round(bestReference.PercentileMs(1), 3), bestReference.Cpu,
                reference!.Tally.Refused, reference.Tally.Retried),
            ClientVsHandWritten: bestReference is null ? null : Math.Round(bestBroker.RecordsPerSec / bestReference.RecordsPerSec, 3));
    }

    public static Task QuietAsync(CpuSampler cpu, CancellationToken cancellationToken) => Quiet(cpu, cancellationToken);

    private static async Task Quiet(CpuSampler cpu, CancellationToken cancellationToken)
    {
        var waited = await cpu.WaitForQuietAsync(s_maxQuietWait, cancellationToken);
        if (waited >= s_maxQuietWait)
        {
            Progress($"redis-server, Storage or Ingest still busy after {waited.TotalSeconds:0.0} s; timing anyway");
        }
    }

    public static GrpcChannel NewChannel(Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        },
        MaxSendMessageSize = 64 * 1024 * 1024,
        MaxReceiveMessageSize = 64 * 1024 * 1024,
    });

    /// <summary>
    /// Creates the topic; answers false when it existed already. Through Ingest, --codec is the topic's
    /// compression (Ingest compresses the batches it builds for it); on storage-append the producer compresses.
    /// </summary>
    private static async Task<bool> CreateTopicAsync(HttpClient http, LoadGenOptions options, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["partitions"] = options.Partitions };
        if (options.ThroughIngest && options.Codec != CompressionCodec.None)
        {
            body["compression"] = options.Codec.ToString().ToLowerInvariant();
        }
        using var response = await http.PutAsJsonAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative), body, cancellationToken);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            var detail = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"PUT /v1/topics/{options.Topic} answered {(int)response.StatusCode}: {detail}");
        }
        var created = response.StatusCode == HttpStatusCode.Created;
        Progress($"topic {options.Topic}: {(created ? "created" : "exists already")}, {options.Partitions} partitions" +
                 (body.ContainsKey("compression") ? $", compression {body["compression"]}" : ""));
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
