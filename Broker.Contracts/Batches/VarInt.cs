using System.Runtime.CompilerServices;

namespace Broker.Contracts.Batches;

/// <summary>Unsigned LEB128 varints and zigzag-encoded signed varlongs, as in protobuf and Kafka records.</summary>
internal static class VarInt
{
    public const int MaxLength32 = 5;
    public const int MaxLength64 = 10;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Write(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static int Write(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteZigZag(Span<byte> destination, long value) =>
        Write(destination, (ulong)((value << 1) ^ (value >> 63)));

    public static int SizeOf(uint value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    /// <summary>Reads a varint that must fit in a non-negative int; throws on truncation or overflow.</summary>
    public static int ReadInt32(ReadOnlySpan<byte> source, ref int position)
    {
        uint result = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (position >= source.Length)
            {
                throw new CorruptRecordBatchException("A varint runs past the end of the batch.");
            }
            var b = source[position++];
            result |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result <= int.MaxValue
                    ? (int)result
                    : throw new CorruptRecordBatchException("A length in the batch is out of range.");
            }
        }
        throw new CorruptRecordBatchException("A varint in the batch is longer than five bytes.");
    }

    public static long ReadZigZag64(ReadOnlySpan<byte> source, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (position >= source.Length)
            {
                throw new CorruptRecordBatchException("A varlong runs past the end of the batch.");
            }
            var b = source[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return (long)(result >> 1) ^ -(long)(result & 1);
            }
        }
        throw new CorruptRecordBatchException("A varlong in the batch is longer than ten bytes.");
    }
}
