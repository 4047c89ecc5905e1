using BenchmarkDotNet.Attributes;
using Broker.Contracts.Batches;
using Broker.Contracts.Partitioning;

namespace Broker.Benchmarks;

/// <summary>The two hashes every append and every keyed produce pays: CRC-32C over a batch, murmur2 over a key.</summary>
[MemoryDiagnoser]
public class HashBenchmarks
{
    private readonly byte[] _data = new byte[100 * 1024];
    private readonly byte[] _key = new byte[16];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        random.NextBytes(_data);
        random.NextBytes(_key);
    }

    [Benchmark(Description = "Crc32C 100 KiB")]
    public uint Crc32C100KiB() => Crc32C.Compute(_data);

    [Benchmark(Description = "Murmur2 16 B key")]
    public int Murmur2Key16() => KafkaPartitioner.Murmur2(_key);
}
