namespace Broker.Contracts.Batches;

/// <summary>How a batch's records section is compressed. The numbers are part of the stored format.</summary>
public enum CompressionCodec : byte
{
    None = 0,
    Lz4 = 1,
    Zstd = 2,
}
