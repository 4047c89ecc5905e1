using Broker.Contracts.Batches;

namespace Broker.Ingest.Producing;

/// <summary>A record as a producer hands it in, before it has a partition or an offset.</summary>
public readonly record struct OutgoingRecord(
    ReadOnlyMemory<byte>? Key,
    ReadOnlyMemory<byte> Value,
    IReadOnlyList<RecordHeader> Headers,
    int? Partition,
    long? Timestamp)
{
    /// <summary>
    /// A key from bytes that may be absent. Use this rather than <c>bytes is null ? null : bytes</c>: C# turns
    /// that null into an empty key through the array-to-memory conversion, and "no key" would be lost.
    /// </summary>
    public static ReadOnlyMemory<byte>? KeyOf(byte[]? key) => key is null ? default(ReadOnlyMemory<byte>?) : key;

    /// <summary>The bytes the record occupies for limits and the buffer budget.</summary>
    public int Size
    {
        get
        {
            var size = (Key?.Length ?? 0) + Value.Length;
            foreach (var header in Headers)
            {
                size += header.Name.Length + header.Value.Length;
            }
            return size;
        }
    }
}

/// <summary>Where a record was written.</summary>
public readonly record struct ProducedOffset(int Partition, long Offset);

/// <summary>
/// An idempotent request: the producer's id and, per partition, the sequence of its first record. A retry
/// with the same identity answers the original offsets instead of writing again.
/// </summary>
public sealed record ProducerIdentity(long ProducerId, int BaseSequence);
