using System.Buffers.Binary;

namespace Broker.Contracts.Partitioning;

/// <summary>
/// Maps a record key to a partition exactly as Kafka's default partitioner does.
/// </summary>
/// <remarks>
/// Kafka compatibility: producers and consumers written against Kafka expect a keyed record to land on
/// <c>toPositive(murmur2(keyBytes)) % numPartitions</c>, with murmur2 being the variant in
/// <c>org.apache.kafka.common.utils.Utils.murmur2</c> (fixed seed, little-endian 4-byte blocks, Kafka's tail
/// handling). Any deviation, even in the tail or the sign handling, silently moves keys to other partitions,
/// so this must stay bit-for-bit identical to Kafka's result.
/// </remarks>
public static class KafkaPartitioner
{
    private const uint Seed = 0x9747b28c;
    private const uint M = 0x5bd1e995;
    private const int R = 24;

    /// <summary>Kafka's murmur2 hash of <paramref name="data"/>, as the signed 32-bit value Java returns.</summary>
    public static int Murmur2(ReadOnlySpan<byte> data)
    {
        unchecked
        {
            var length = data.Length;
            var h = Seed ^ (uint)length;

            var blockEnd = length & ~3;
            for (var i = 0; i < blockEnd; i += 4)
            {
                var k = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i, 4));
                k *= M;
                k ^= k >> R;
                k *= M;
                h *= M;
                h ^= k;
            }

            // The 1-3 trailing bytes, folded in the same order as Kafka's fall-through switch.
            var tail = length & 3;
            if (tail == 3)
            {
                h ^= (uint)data[blockEnd + 2] << 16;
            }

            if (tail >= 2)
            {
                h ^= (uint)data[blockEnd + 1] << 8;
            }

            if (tail >= 1)
            {
                h ^= data[blockEnd];
                h *= M;
            }

            h ^= h >> 13;
            h *= M;
            h ^= h >> 15;

            return (int)h;
        }
    }

    /// <summary>
    /// The partition Kafka's default partitioner picks for a non-null <paramref name="key"/>:
    /// <c>(murmur2(key) &amp; 0x7fffffff) % partitionCount</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitionCount"/> is less than 1.</exception>
    public static int PartitionForKey(ReadOnlySpan<byte> key, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);

        // Kafka's toPositive: clear the sign bit (not Math.Abs, which differs for negative values and int.MinValue).
        return (Murmur2(key) & 0x7fffffff) % partitionCount;
    }
}
