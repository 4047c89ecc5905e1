namespace Broker.Client.Producing;

/// <summary>How a producer batches, bounds and retries. The defaults follow Kafka's producer's.</summary>
public sealed class ProducerOptions
{
    /// <summary>How long a partition's batch waits for more records before it is sent (Kafka's <c>linger.ms</c>, 5 ms).</summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>A batch is sent once its records' keys and values reach this many bytes (Kafka's <c>batch.size</c>, 16 KiB).</summary>
    public int BatchSize { get; set; } = 16 * 1024;

    /// <summary>Most records in one batch; Ingest takes up to 10,000 per request.</summary>
    public int MaxBatchRecords { get; set; } = 10_000;

    /// <summary>Batches of one partition in flight at once (Kafka's <c>max.in.flight.requests.per.connection</c>, 5; at most 5 with <see cref="Idempotence"/>).</summary>
    public int MaxInFlightPerPartition { get; set; } = 5;

    /// <summary>Batches in flight on the produce stream, over all partitions (Ingest admits 1,024 per stream).</summary>
    public int MaxInFlight { get; set; } = 256;

    /// <summary>
    /// Bytes of records waiting to be sent or confirmed (Kafka's <c>buffer.memory</c>, 32 MiB). Past it
    /// <c>ProduceAsync</c> waits for room and <c>Produce</c> throws <see cref="ProduceException"/> (queue full).
    /// </summary>
    public long BufferBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// How long a record may take from <c>Produce</c> to its confirmation, retries included (Kafka's
    /// <c>delivery.timeout.ms</c>, 2 minutes); past it the record fails with <see cref="ProduceError.Timeout"/>.
    /// </summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The first retry's delay; each retry doubles it, with jitter, up to <see cref="MaxRetryBackoff"/> (Kafka's 100 ms and 1 s).</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between retries; a RESOURCE_EXHAUSTED answer's retry hint is honoured even past it.</summary>
    public TimeSpan MaxRetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Each partition's batches carry a producer id and sequence numbers, so that a retry is written once however
    /// often it is sent, and never out of order (Kafka's <c>enable.idempotence</c>, on).
    /// </summary>
    public bool Idempotence { get; set; } = true;

    internal void Validate()
    {
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero && name != nameof(Linger))
            {
                throw new ArgumentOutOfRangeException(name, value, $"ProducerOptions.{name} must be more than zero.");
            }
        }
        if (Linger < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Linger), Linger, "ProducerOptions.Linger must be zero or more.");
        }
        Positive(DeliveryTimeout, nameof(DeliveryTimeout));
        Positive(RetryBackoff, nameof(RetryBackoff));
        Positive(MaxRetryBackoff, nameof(MaxRetryBackoff));
        if (Idempotence && MaxInFlightPerPartition > 5)
        {
            // Storage remembers a producer's last five batches per partition: a sixth in flight could not be told from a new one.
            throw new ArgumentOutOfRangeException(nameof(MaxInFlightPerPartition), MaxInFlightPerPartition,
                "ProducerOptions.MaxInFlightPerPartition is at most 5 with Idempotence (the broker remembers a producer's last five batches).");
        }
        if (BatchSize < 1 || MaxBatchRecords is < 1 or > 10_000 || MaxInFlightPerPartition < 1 || MaxInFlight < 1 || BufferBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), "ProducerOptions: BatchSize, MaxInFlightPerPartition, MaxInFlight and BufferBytes must be at least 1; MaxBatchRecords from 1 to 10,000.");
        }
    }
}
