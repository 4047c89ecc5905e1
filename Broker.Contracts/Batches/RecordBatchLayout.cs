namespace Broker.Contracts.Batches;

/// <summary>
/// The byte layout of a record batch (all integers little-endian):
/// <code>
///  0  8  base offset       assigned by the log; outside the CRC so the log can set it in place
///  8  4  batch length      bytes after this field
/// 12  1  magic             format version (1)
/// 13  4  CRC-32C           over every byte from offset 17 to the end
/// 17  1  attributes        bits 0-2: compression codec
/// 18  4  record count
/// 22  8  first timestamp   unix milliseconds of the first record
/// 30  8  max timestamp
/// 38  8  producer id       -1 when the producer is not idempotent
/// 46  4  base sequence     -1 when the producer is not idempotent
/// 50  4  records length    size of the records section before compression
/// 54  …  records           possibly compressed
/// </code>
/// Each record: varint length of the rest, zigzag varlong timestamp delta, varint offset delta,
/// varint key length + 1 (0 = no key), key, varint value length, value, varint header count,
/// then per header: varint name length, UTF-8 name, varint value length, value.
/// </summary>
public static class RecordBatchLayout
{
    public const int BaseOffsetPosition = 0;
    public const int BatchLengthPosition = 8;
    public const int MagicPosition = 12;
    public const int CrcPosition = 13;
    public const int AttributesPosition = 17;
    public const int RecordCountPosition = 18;
    public const int FirstTimestampPosition = 22;
    public const int MaxTimestampPosition = 30;
    public const int ProducerIdPosition = 38;
    public const int BaseSequencePosition = 46;
    public const int RecordsLengthPosition = 50;
    public const int HeaderSize = 54;

    /// <summary>The bytes before the batch length field: base offset and the length itself.</summary>
    public const int LogOverhead = 12;

    /// <summary>The CRC covers everything after itself.</summary>
    public const int CrcCoveredStart = AttributesPosition;

    public const byte CurrentMagic = 1;
    public const byte CodecMask = 0x07;

    public const long NoProducerId = -1;
    public const int NoSequence = -1;
}
