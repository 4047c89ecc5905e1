using System.Globalization;
using Broker.Contracts.Batches;

namespace Broker.LoadGen;

/// <summary>
/// What one run does, from <c>--name value</c> arguments. Immutable; <see cref="Default"/> documents
/// every default.
/// </summary>
public sealed record LoadGenOptions
{
    /// <summary>The scenarios: what the broker part of a round measures (the baseline is always the same).</summary>
    public const string StorageAppend = "storage-append";
    public const string IngestGrpc = "ingest-grpc";
    public const string IngestHttp = "ingest-http";
    public const string IngestClient = "ingest-client";
    public const string ProduceDeliver = "produce-deliver";
    public const string IngestSchema = "ingest-schema";
    public const string Replay = "replay";
    public const string DaprPublish = "dapr-publish";

    public static LoadGenOptions Default { get; } = new();

    /// <summary>
    /// storage-append: pre-built batches through Storage's gRPC Append; ingest-grpc: produce requests on
    /// Ingest's bidi gRPC stream(s); ingest-http: JSON produce requests POSTed to Ingest's REST API.
    /// </summary>
    public string Scenario { get; init; } = StorageAppend;

    public bool ThroughIngest => Scenario is IngestGrpc or IngestHttp or IngestClient or ProduceDeliver or IngestSchema;

    /// <summary>Storage's gRPC endpoint (h2c).</summary>
    public Uri Storage { get; init; } = new("http://127.0.0.1:5101");

    /// <summary>Storage's REST endpoint (HTTP/1.1), used to create and delete the topic.</summary>
    public Uri Rest { get; init; } = new("http://127.0.0.1:5100");

    /// <summary>Ingest's gRPC endpoint (h2c), for ingest-grpc.</summary>
    public Uri Ingest { get; init; } = new("http://127.0.0.1:5201");

    /// <summary>Delivery's gRPC endpoint (h2c), for produce-deliver.</summary>
    public Uri Delivery { get; init; } = new("http://127.0.0.1:5301");

    /// <summary>produce-deliver: the fixed rates (records/s) whose end-to-end latency is measured.</summary>
    public IReadOnlyList<int> Rates { get; init; } = [1_000, 10_000];

    /// <summary>produce-deliver: how long each fixed rate runs.</summary>
    public int RateSeconds { get; init; } = 3;

    /// <summary>produce-deliver: records in flight to the consumer (Delivery's window; the baseline's XREADGROUP COUNT).</summary>
    public int ConsumerWindow { get; init; } = 1000;

    /// <summary>ingest-client and produce-deliver's client path: the client producer's linger (its default is 5 ms).</summary>
    public int LingerMs { get; init; } = 5;

    /// <summary>ingest-schema: the schema registry's REST endpoint.</summary>
    public Uri Registry { get; init; } = new("http://127.0.0.1:8081");

    /// <summary>replay: Delivery's REST endpoint, where replay jobs are created.</summary>
    public Uri DeliveryRest { get; init; } = new("http://127.0.0.1:5300");

    /// <summary>replay: where Storage keeps segments, "s3" or "local" (the baseline reads them from there).</summary>
    public string SegmentStore { get; init; } = "s3";

    /// <summary>replay: the job's target, "verify" (read and check everything) or "topic" (republish into a new topic).</summary>
    public string ReplayTarget { get; init; } = "verify";

    public Uri S3Url { get; init; } = new("http://127.0.0.1:4568");
    public string S3Bucket { get; init; } = "broker-bench";

    /// <summary>replay: Storage:Segments:Prefix, the first part of every object name (and of every file's path in the local store).</summary>
    public string S3Prefix { get; init; } = "broker";
    public string S3AccessKey { get; init; } = "S3RVER";
    public string S3SecretKey { get; init; } = "S3RVER";

    /// <summary>replay with --store local: Storage:Segments:Directory.</summary>
    public string? SegmentsDirectory { get; init; }

    /// <summary>replay: the baseline's GET size (Storage:Tiering:ChunkBytes, so both read in the same pieces).</summary>
    public int ChunkBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>replay: the baseline's GETs in flight per partition beyond the current one (Storage:Tiering:ReadAheadChunks).</summary>
    public int ReadAhead { get; init; } = 2;

    /// <summary>dapr-publish: the pluggable component's Unix socket (daprd's side of it is played by the load generator).</summary>
    public string? ComponentSocket { get; init; }

    /// <summary>dapr-publish: the component host's process id, so its CPU use can be reported.</summary>
    public int? ComponentPid { get; init; }

    /// <summary>Delivery's process id, when known, so its CPU use can be reported.</summary>
    public int? DeliveryPid { get; init; }

    /// <summary>Ingest's REST endpoint (HTTP/1.1), for ingest-http.</summary>
    public Uri IngestRest { get; init; } = new("http://127.0.0.1:5200");

    /// <summary>A StackExchange.Redis configuration string for the baseline (the Redis Storage uses).</summary>
    public string Redis { get; init; } = "127.0.0.1:6379";

    /// <summary>Records per timed round, for each path.</summary>
    public int Records { get; init; } = 200_000;

    public int RecordBytes { get; init; } = 1024;

    /// <summary>Records per batch (storage-append) or per produce request (ingest-*) on the broker path.</summary>
    public int Batch { get; init; } = 100;

    public int Partitions { get; init; } = 4;

    /// <summary>
    /// Appends in flight (storage-append), unacknowledged requests per stream (ingest-grpc), or concurrent
    /// POSTs (ingest-http) on the broker path.
    /// </summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>HTTP/2 connections (one GrpcChannel each) the appends spread over; ingest-grpc opens one stream on each.</summary>
    public int Connections { get; init; } = 1;

    /// <summary>
    /// storage-append: how the producer compresses each batch; ingest-*: the topic's compression (Ingest
    /// compresses the batches it builds). The baseline always writes raw values.
    /// </summary>
    public CompressionCodec Codec { get; init; } = CompressionCodec.None;

    /// <summary>"random" (incompressible bytes) or "text" (JSON-like, compressible) record values.</summary>
    public string Values { get; init; } = "random";

    /// <summary>XADDs in flight on the baseline path.</summary>
    public int Window { get; init; } = 1000;

    public string Topic { get; init; } = "loadgen-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Each round runs the baseline, then the broker; the report takes the best round of each.</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Untimed warm-up of each path, as a fraction of <see cref="Records"/>.</summary>
    public double Warmup { get; init; } = 0.1;

    /// <summary>Keep the topic after the run (it is deleted otherwise).</summary>
    public bool KeepTopic { get; init; }

    /// <summary>Storage's process id, when known, so its CPU use per round can be reported (Linux /proc).</summary>
    public int? StoragePid { get; init; }

    /// <summary>Ingest's process id, when known, so its CPU use per round can be reported (Linux /proc).</summary>
    public int? IngestPid { get; init; }

    public const string Usage = """
        Broker.LoadGen: Storage's append path or Ingest's produce path against pipelined Redis XADD (Dapr
        pubsub.redis's pattern), or produce-to-delivery against XADD + XREADGROUP + XACK, in the same run.
          --scenario S         storage-append, ingest-grpc, ingest-http,
                               ingest-client (Broker.Client's producer
                               against ingest-grpc's hand-written
                               stream, same rounds), produce-deliver,
                               ingest-schema,
                               replay or dapr-publish                 (default storage-append)
          --registry URL       ingest-schema: the schema registry     (default http://127.0.0.1:8081)
          --storage URL        Storage gRPC endpoint, h2c             (default http://127.0.0.1:5101)
          --rest URL           Storage REST endpoint                  (default http://127.0.0.1:5100)
          --ingest URL         Ingest gRPC endpoint, h2c              (default http://127.0.0.1:5201)
          --ingest-rest URL    Ingest REST endpoint                   (default http://127.0.0.1:5200)
          --redis CONFIG       Redis for the baseline                 (default 127.0.0.1:6379)
          --records N          records per timed round and path       (default 200000)
          --record-bytes N     value size                             (default 1024)
          --batch N            records per append / produce request   (default 100)
          --partitions N       partitions of the topic / baseline     (default 4)
          --concurrency N      appends in flight; ingest-grpc: requests
                               in flight per stream; ingest-http:
                               concurrent POSTs                       (default 16)
          --connections N      HTTP/2 connections for the appends;
                               ingest-grpc: produce streams           (default 1)
          --codec C            none, lz4, zstd: the producer's batch
                               compression; ingest-*: the topic's     (default none)
          --values V           random (incompressible) or text        (default random)
          --window N           baseline XADDs in flight               (default 1000)
          --topic NAME         topic to create                        (default loadgen-<random>)
          --rounds N           baseline+broker rounds, best reported  (default 2)
          --warmup F           untimed warm-up fraction               (default 0.1)
          --storage-pid PID    report Storage's CPU use per round     (default: not reported)
          --ingest-pid PID     report Ingest's CPU use per round      (default: not reported)
          --delivery URL       Delivery gRPC endpoint, h2c            (default http://127.0.0.1:5301)
          --delivery-pid PID   report Delivery's CPU use              (default: not reported)
          --rates R1,R2        produce-deliver: fixed rates, records/s (default 1000,10000)
          --rate-seconds N     produce-deliver: seconds per rate      (default 3)
          --consumer-window N  produce-deliver: records in flight to
                               the consumer                           (default 1000)
          --linger-ms N        Broker.Client's producer: how long a
                               batch waits to fill                    (default 5)
          --delivery-rest URL  replay: Delivery REST endpoint         (default http://127.0.0.1:5300)
          --store S            replay: s3 or local                    (default s3)
          --replay-target T    replay: verify or topic                (default verify)
          --s3-url URL         replay: the S3 endpoint                (default http://127.0.0.1:4568)
          --s3-bucket NAME     replay: the bucket                     (default broker-bench)
          --s3-prefix P        replay: Storage:Segments:Prefix        (default broker)
          --segments-dir DIR   replay with --store local: the folder
          --chunk-bytes N      replay: baseline GET size              (default 4194304)
          --read-ahead N       replay: baseline GETs ahead            (default 2)
          --component-socket P dapr-publish: the component's socket
          --component-pid PID  dapr-publish: report its CPU use       (default: not reported)
          --keep-topic         do not delete the topic afterwards
        Prints one JSON line to stdout; progress goes to stderr.
        """;

    /// <summary>Parses <c>--name value</c> pairs; throws <see cref="ArgumentException"/> with a readable message.</summary>
    public static LoadGenOptions Parse(IReadOnlyList<string> args)
    {
        var options = Default;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--keep-topic")
            {
                options = options with { KeepTopic = true };
                continue;
            }
            if (!name.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new ArgumentException($"Expected '--name value'; got '{name}'.");
            }
            var value = args[++i];
            options = name switch
            {
                "--scenario" => options with { Scenario = value is StorageAppend or IngestGrpc or IngestHttp or IngestClient or ProduceDeliver or IngestSchema or Replay or DaprPublish ? value : throw new ArgumentException($"{name} takes {StorageAppend}, {IngestGrpc}, {IngestHttp}, {IngestClient}, {ProduceDeliver}, {IngestSchema}, {Replay} or {DaprPublish}; got '{value}'.") },
                "--component-socket" => options with { ComponentSocket = value },
                "--component-pid" => options with { ComponentPid = ParseInt(name, value, 1) },
                "--delivery-rest" => options with { DeliveryRest = ParseUri(name, value) },
                "--store" => options with { SegmentStore = value is "s3" or "local" ? value : throw new ArgumentException($"{name} takes s3 or local; got '{value}'.") },
                "--replay-target" => options with { ReplayTarget = value is "verify" or "topic" ? value : throw new ArgumentException($"{name} takes verify or topic; got '{value}'.") },
                "--s3-url" => options with { S3Url = ParseUri(name, value) },
                "--s3-bucket" => options with { S3Bucket = value },
                "--s3-prefix" => options with { S3Prefix = value },
                "--segments-dir" => options with { SegmentsDirectory = value },
                "--chunk-bytes" => options with { ChunkBytes = ParseInt(name, value, 4096) },
                "--read-ahead" => options with { ReadAhead = ParseInt(name, value, 0) },
                "--registry" => options with { Registry = ParseUri(name, value) },
                "--delivery" => options with { Delivery = ParseUri(name, value) },
                "--delivery-pid" => options with { DeliveryPid = ParseInt(name, value, 1) },
                "--rates" => options with { Rates = [.. value.Split(',').Select(r => ParseInt(name, r, 1))] },
                "--rate-seconds" => options with { RateSeconds = ParseInt(name, value, 1) },
                "--consumer-window" => options with { ConsumerWindow = ParseInt(name, value, 1) },
                "--linger-ms" => options with { LingerMs = ParseInt(name, value, 0) },
                "--storage" => options with { Storage = ParseUri(name, value) },
                "--ingest" => options with { Ingest = ParseUri(name, value) },
                "--ingest-rest" => options with { IngestRest = ParseUri(name, value) },
                "--rest" => options with { Rest = ParseUri(name, value) },
                "--redis" => options with { Redis = value },
                "--records" => options with { Records = ParseInt(name, value, 1) },
                "--record-bytes" => options with { RecordBytes = ParseInt(name, value, 0) },
                "--batch" => options with { Batch = ParseInt(name, value, 1) },
                "--partitions" => options with { Partitions = ParseInt(name, value, 1) },
                "--concurrency" => options with { Concurrency = ParseInt(name, value, 1) },
                "--window" => options with { Window = ParseInt(name, value, 1) },
                "--connections" => options with { Connections = ParseInt(name, value, 1) },
                "--codec" => options with { Codec = ParseCodec(name, value) },
                "--values" => options with { Values = value is "random" or "text" ? value : throw new ArgumentException($"{name} takes random or text; got '{value}'.") },
                "--topic" => options with { Topic = value },
                "--rounds" => options with { Rounds = ParseInt(name, value, 1) },
                "--warmup" => options with { Warmup = ParseFraction(name, value) },
                "--storage-pid" => options with { StoragePid = ParseInt(name, value, 1) },
                "--ingest-pid" => options with { IngestPid = ParseInt(name, value, 1) },
                _ => throw new ArgumentException($"Unknown option '{name}'."),
            };
        }
        return options;
    }

    private static CompressionCodec ParseCodec(string name, string value) => value switch
    {
        "none" => CompressionCodec.None,
        "lz4" => CompressionCodec.Lz4,
        "zstd" => CompressionCodec.Zstd,
        _ => throw new ArgumentException($"{name} takes none, lz4 or zstd; got '{value}'."),
    };

    private static Uri ParseUri(string name, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ArgumentException($"{name} takes an http(s) URL; got '{value}'.");

    private static int ParseInt(string name, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new ArgumentException($"{name} takes a whole number of at least {min}; got '{value}'.");

    private static double ParseFraction(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f is >= 0 and < 1
            ? f
            : throw new ArgumentException($"{name} takes a fraction from 0 to below 1; got '{value}'.");
}
