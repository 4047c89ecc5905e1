using K4os.Compression.LZ4;
using ZstdSharp;

namespace Broker.Contracts.Batches;

/// <summary>Compresses and decompresses a batch's records section (LZ4 block, or zstd frame).</summary>
internal static class BatchCompression
{
    // ZstdSharp's contexts are expensive to create and not thread-safe: one per thread.
    [ThreadStatic] private static Compressor? t_zstdCompressor;
    [ThreadStatic] private static Decompressor? t_zstdDecompressor;

    private const int ZstdLevel = 3;

    public static int MaxCompressedLength(CompressionCodec codec, int length) => codec switch
    {
        CompressionCodec.None => length,
        CompressionCodec.Lz4 => LZ4Codec.MaximumOutputSize(length),
        CompressionCodec.Zstd => Compressor.GetCompressBound(length),
        _ => throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown compression codec."),
    };

    public static int Compress(CompressionCodec codec, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        switch (codec)
        {
            case CompressionCodec.Lz4:
                var written = LZ4Codec.Encode(source, destination, LZ4Level.L00_FAST);
                return written > 0 ? written : throw new InvalidOperationException("LZ4 compression failed.");
            case CompressionCodec.Zstd:
                return (t_zstdCompressor ??= new Compressor(ZstdLevel)).Wrap(source, destination);
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "Not a compression codec.");
        }
    }

    /// <summary>Decompresses into exactly <paramref name="destination"/>; anything else is corruption.</summary>
    public static void Decompress(CompressionCodec codec, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int written;
        try
        {
            written = codec switch
            {
                CompressionCodec.Lz4 => LZ4Codec.Decode(source, destination),
                CompressionCodec.Zstd => (t_zstdDecompressor ??= new Decompressor()).Unwrap(source, destination),
                _ => throw new CorruptRecordBatchException($"Unknown compression codec {(byte)codec}."),
            };
        }
        catch (ZstdException ex)
        {
            throw new CorruptRecordBatchException("The zstd records section does not decompress.", ex);
        }
        if (written != destination.Length)
        {
            throw new CorruptRecordBatchException(
                $"The {codec} records section decompressed to {written} bytes; the header says {destination.Length}.");
        }
    }
}
