using System.Buffers.Binary;
using System.Numerics;

namespace Broker.Contracts.Batches;

/// <summary>
/// CRC-32C (Castagnoli), the checksum Kafka batches use. BitOperations.Crc32C uses the CPU's CRC
/// instruction (SSE4.2, ARM CRC32) where there is one, eight bytes at a time.
/// </summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return ~crc;
    }
}
