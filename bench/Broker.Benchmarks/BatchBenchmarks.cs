using BenchmarkDotNet.Attributes;
using Broker.Contracts.Batches;

namespace Broker.Benchmarks;

/// <summary>
/// The record batch codec on the append path: a producer builds a batch of 100 × 1 KiB records, Storage
/// validates it (CRC plus a walk over every record), a consumer iterates it. The builder is reused
/// across iterations (Reset), so the allocation column shows the steady state: only the finished batch
/// array (the builder's buffer and the compression scratch are pooled). Validating or iterating a
/// compressed batch allocates the decompressed records section.
/// </summary>
[MemoryDiagnoser]
public class BatchBenchmarks : IDisposable
{
    private const int RecordCount = 100;
    private const int ValueBytes = 1024;
    private const long Timestamp = 1_763_000_000_000;

    private readonly byte[][] _values = new byte[RecordCount][];
    private RecordBatchBuilder _builder = null!;
    private byte[] _batch = [];

    [Params(CompressionCodec.None, CompressionCodec.Lz4, CompressionCodec.Zstd)]
    public CompressionCodec Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Values that compress like typical JSON-ish payloads rather than random bytes or all zeros.
        var random = new Random(42);
        const string alphabet = "{\"id\":0123456789,\"name\":\"abcdefghij\",\"tags\":[]}";
        for (var i = 0; i < RecordCount; i++)
        {
            var value = new byte[ValueBytes];
            for (var j = 0; j < value.Length; j++)
            {
                value[j] = (byte)alphabet[random.Next(alphabet.Length)];
            }
            _values[i] = value;
        }
        _builder = new RecordBatchBuilder(RecordCount * (ValueBytes + 32));
        _batch = BuildBatch();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _builder.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Description = "Build 100 x 1 KiB")]
    public byte[] BuildBatch()
    {
        _builder.Reset();
        for (var i = 0; i < _values.Length; i++)
        {
            _builder.Add(_values[i], Timestamp + i);
        }
        return _builder.Build(Codec);
    }

    [Benchmark(Description = "Validate (CRC + walk)")]
    public int Validate() => RecordBatch.Validate(_batch).RecordCount;

    [Benchmark(Description = "Iterate records")]
    public long IterateRecords()
    {
        var sum = 0L;
        foreach (var record in RecordBatch.Parse(_batch).GetRecords())
        {
            sum += record.Value.Length + record.Offset;
        }
        return sum;
    }
}
