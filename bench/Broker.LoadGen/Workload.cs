using Broker.Contracts.Batches;
using Google.Protobuf;

namespace Broker.LoadGen;

/// <summary>
/// The records both paths write, made before anything is timed: a pool of distinct values (record i has
/// value i mod pool size) and, for storage-append, the same records already encoded as batches, so the
/// timed loops measure the append paths, not the builder. Batch b holds records b × batch up to the next
/// batch's first (the last may be short); the Ingest paths send the same ranges as produce requests.
/// </summary>
public sealed class Workload
{
    private const int ValuePool = 1024;

    private readonly byte[][] _values;

    private readonly int _records;
    private readonly int _batch;

    private Workload(byte[][] values, ByteString[] batches, int[] batchCounts, int records, int batch)
    {
        _values = values;
        _records = records;
        _batch = batch;
        Batches = batches;
        BatchCounts = batchCounts;
    }

    /// <summary>Encoded batches covering one round's records in order (storage-append only; empty otherwise).</summary>
    public IReadOnlyList<ByteString> Batches { get; }

    /// <summary>Batches (or produce requests) in one round.</summary>
    public int BatchCount => BatchCounts.Count;

    /// <summary>The distinct values, record i having value i mod their count.</summary>
    public IReadOnlyList<byte[]> Values => _values;

    /// <summary>The records of batch <paramref name="batch"/>: indexes from First up to (not including) End.</summary>
    public (int First, int End) RecordsOf(int batch) => (batch * _batch, Math.Min((batch + 1) * _batch, _records));

    /// <summary>Records in each batch.</summary>
    public IReadOnlyList<int> BatchCounts { get; }

    public byte[] Value(int record) => _values[record % _values.Length];

    /// <summary>The records of a run; <paramref name="valueOf"/> makes the distinct values when given (say, framed Avro).</summary>
    public static Workload Create(LoadGenOptions options, Func<Random, int, byte[]>? valueOf = null)
    {
        var random = new Random(20_251_123);
        var values = new byte[Math.Min(ValuePool, options.Records)][];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = valueOf?.Invoke(random, options.RecordBytes)
                ?? (options.Values == "text" ? TextValue(random, options.RecordBytes) : RandomValue(random, options.RecordBytes));
        }

        var batchCount = (options.Records + options.Batch - 1) / options.Batch;
        var counts = new int[batchCount];
        if (options.ThroughIngest)
        {
            // Ingest builds the batches; the load generator sends records.
            for (var b = 0; b < batchCount; b++)
            {
                counts[b] = Math.Min(options.Batch, options.Records - (b * options.Batch));
            }
            return new Workload(values, [], counts, options.Records, options.Batch);
        }
        var batches = new ByteString[batchCount];
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var builder = new RecordBatchBuilder(options.Batch * (options.RecordBytes + 32));
        for (var b = 0; b < batchCount; b++)
        {
            builder.Reset();
            var first = b * options.Batch;
            var last = Math.Min(first + options.Batch, options.Records);
            for (var r = first; r < last; r++)
            {
                builder.Add(values[r % values.Length], timestamp);
            }
            counts[b] = builder.Count;
            // The array is ours alone and never changes: wrap it, do not copy it again per send.
            batches[b] = UnsafeByteOperations.UnsafeWrap(builder.Build(options.Codec));
        }
        return new Workload(values, batches, counts, options.Records, options.Batch);
    }

    private static byte[] RandomValue(Random random, int length)
    {
        var value = new byte[length];
        random.NextBytes(value);
        return value;
    }

    /// <summary>JSON-like text: repeated field names, varying numbers and words; compresses about as events do.</summary>
    private static byte[] TextValue(Random random, int length)
    {
        string[] words = ["order", "customer", "shipped", "pending", "invoice", "warehouse", "express", "standard", "refund"];
        var text = new System.Text.StringBuilder(length + 64);
        while (text.Length < length)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{{\"id\":{random.Next(1_000_000)},\"status\":\"{words[random.Next(words.Length)]}\",\"amount\":{random.Next(100_000) / 100.0},\"sku\":\"{words[random.Next(words.Length)]}-{random.Next(1000)}\"}},");
        }
        return System.Text.Encoding.UTF8.GetBytes(text.ToString(0, length));
    }
}
