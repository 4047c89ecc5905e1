using System.ComponentModel.DataAnnotations;

namespace Broker.Ingest;

/// <summary>Ingest's limits and batching, bound from the "Ingest" section and validated at start-up.</summary>
public sealed class IngestOptions
{
    public const string SectionName = "Ingest";

    /// <summary>Storage's gRPC endpoint; the default resolves through service discovery (services__storage__grpc__0).</summary>
    [Required]
    public string StorageAddress { get; set; } = "http://_grpc.storage";

    /// <summary>
    /// How long a partition's batch waits for more records before it is sent. With 0, a batch goes as soon as
    /// the partition's previous append is answered, and batches still fill up under load while one append is
    /// under way: the same throughput as a linger in bench/ingest-produce.sh, and lower latency end to end.
    /// </summary>
    [Range(0, 10_000)]
    public int LingerMs { get; set; }

    /// <summary>
    /// A partition's batcher (its task, buffer and producer id) is let go after this long without records, so topics
    /// no longer written (or deleted) cost nothing; the next record makes a new one.
    /// </summary>
    [Range(100, 86_400_000)]
    public int AccumulatorIdleMs { get; set; } = 300_000;

    /// <summary>A batch is sent once it holds this many bytes (uncompressed).</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>A batch is sent once it holds this many records.</summary>
    [Range(1, 100_000)]
    public int MaxBatchRecords { get; set; } = 1_000;

    /// <summary>The largest record (key + value + headers) accepted.</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxRecordBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest produce request (HTTP body or gRPC message) accepted.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The most records in one request.</summary>
    [Range(1, 1_000_000)]
    public int MaxRecordsPerRequest { get; set; } = 10_000;

    /// <summary>The most headers on one record.</summary>
    [Range(0, 10_000)]
    public int MaxHeadersPerRecord { get; set; } = 64;

    /// <summary>
    /// Bytes of records accepted but not yet confirmed by Storage, across this instance. Past it, produce
    /// requests are refused (HTTP 429, gRPC RESOURCE_EXHAUSTED) instead of queueing: the bounded queue.
    /// </summary>
    [Range(1024, 4L * 1024 * 1024 * 1024)]
    public long MaxBufferedBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>What Retry-After (and retry_after_ms) tells a refused producer.</summary>
    [Range(1, 3_600)]
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Requests in flight on one gRPC produce stream before Ingest stops reading it.</summary>
    [Range(1, 100_000)]
    public int MaxInFlightPerStream { get; set; } = 1_024;

    /// <summary>The schema registry; the default resolves through service discovery (services__schemaregistry__http__0).</summary>
    [Required]
    public string SchemaRegistryAddress { get; set; } = "http://_http.schemaregistry";

    /// <summary>How long "schema id N is registered under subject S" is believed (a schema by id is kept for good).</summary>
    [Range(0, 3_600)]
    public int SchemaCacheSeconds { get; set; } = 60;

    /// <summary>How long a topic's partition count and compression are cached.</summary>
    [Range(0, 3_600)]
    public int TopicCacheSeconds { get; set; } = 5;

    /// <summary>Attempts of one Storage append on a transient failure (appends are idempotent, so retries are safe).</summary>
    [Range(1, 20)]
    public int AppendAttempts { get; set; } = 5;

    /// <summary>How long one Storage append attempt may take.</summary>
    [Range(100, 300_000)]
    public int AppendTimeoutMs { get; set; } = 10_000;
}
