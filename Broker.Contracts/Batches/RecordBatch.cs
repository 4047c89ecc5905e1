using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using static Broker.Contracts.Batches.RecordBatchLayout;

namespace Broker.Contracts.Batches;

/// <summary>
/// A view over one record batch's bytes (layout in <see cref="RecordBatchLayout"/>). <see cref="Parse"/>
/// checks the framing and the CRC, so a corrupt batch is an exception, never data.
/// </summary>
public readonly struct RecordBatch
{
    private RecordBatch(ReadOnlyMemory<byte> bytes) => Bytes = bytes;

    public ReadOnlyMemory<byte> Bytes { get; }

    public long BaseOffset => BinaryPrimitives.ReadInt64LittleEndian(Bytes.Span);
    public CompressionCodec Codec => (CompressionCodec)(Bytes.Span[AttributesPosition] & CodecMask);
    public int RecordCount => BinaryPrimitives.ReadInt32LittleEndian(Bytes.Span[RecordCountPosition..]);
    public long FirstTimestamp => BinaryPrimitives.ReadInt64LittleEndian(Bytes.Span[FirstTimestampPosition..]);
    public long MaxTimestamp => BinaryPrimitives.ReadInt64LittleEndian(Bytes.Span[MaxTimestampPosition..]);
    public long ProducerId => BinaryPrimitives.ReadInt64LittleEndian(Bytes.Span[ProducerIdPosition..]);
    public int BaseSequence => BinaryPrimitives.ReadInt32LittleEndian(Bytes.Span[BaseSequencePosition..]);
    public int RecordsLength => BinaryPrimitives.ReadInt32LittleEndian(Bytes.Span[RecordsLengthPosition..]);
    public uint Crc => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.Span[CrcPosition..]);

    /// <summary>The offset after the last record: where the next batch starts.</summary>
    public long NextOffset => BaseOffset + RecordCount;

    public bool IsIdempotent => ProducerId >= 0;

    /// <summary>The sequence <paramref name="count"/> records after <paramref name="sequence"/>: sequences wrap to 0 past int.MaxValue, as in Kafka.</summary>
    public static int NextSequence(int sequence, int count) => (int)(((long)sequence + count) % ((long)int.MaxValue + 1));

    /// <summary>
    /// The largest records section a batch may declare, compressed or not, unless the caller sets a lower
    /// limit: a compressed batch cannot make its reader allocate more than this.
    /// </summary>
    public const int DefaultMaxRecordsLength = 64 * 1024 * 1024;

    private const int PooledDecompressionLimit = 4 * 1024 * 1024;

    /// <summary>
    /// For bytes whose CRC was checked already (by Storage when it read them, or by this process): checks the
    /// framing (length, magic, record count) but not the CRC, the cost of a read path that passes a batch on
    /// through several hands.
    /// </summary>
    public static RecordBatch ParseChecked(ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        if (span.Length < HeaderSize || BinaryPrimitives.ReadInt32LittleEndian(span[BatchLengthPosition..]) != span.Length - LogOverhead
            || span[MagicPosition] != CurrentMagic)
        {
            throw new CorruptRecordBatchException($"Not a record batch of {span.Length} bytes: its length field or format version is wrong.");
        }
        var batch = new RecordBatch(bytes);
        return batch.RecordCount > 0 ? batch : throw new CorruptRecordBatchException($"A batch holds at least one record; this one says {batch.RecordCount}.");
    }

    /// <summary>Checks length, magic, codec, count and CRC. Records are not walked; see <see cref="Validate"/>.</summary>
    public static RecordBatch Parse(ReadOnlyMemory<byte> bytes, int maxRecordsLength = DefaultMaxRecordsLength)
    {
        var span = bytes.Span;
        if (span.Length < HeaderSize)
        {
            throw new CorruptRecordBatchException($"A batch is at least {HeaderSize} bytes; got {span.Length}.");
        }
        var batchLength = BinaryPrimitives.ReadInt32LittleEndian(span[BatchLengthPosition..]);
        if (batchLength != span.Length - LogOverhead)
        {
            throw new CorruptRecordBatchException(
                $"The batch length field says {batchLength} bytes follow it; {span.Length - LogOverhead} do.");
        }
        if (span[MagicPosition] != CurrentMagic)
        {
            throw new CorruptRecordBatchException($"Unknown batch format version {span[MagicPosition]}.");
        }
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(span[CrcPosition..]);
        var computed = Crc32C.Compute(span[CrcCoveredStart..]);
        if (stored != computed)
        {
            throw new CorruptRecordBatchException($"CRC mismatch: the batch says {stored:x8}, its bytes give {computed:x8}.");
        }
        var batch = new RecordBatch(bytes);
        if (batch.Codec is not (CompressionCodec.None or CompressionCodec.Lz4 or CompressionCodec.Zstd))
        {
            throw new CorruptRecordBatchException($"Unknown compression codec {(byte)batch.Codec}.");
        }
        if (batch.RecordCount <= 0)
        {
            throw new CorruptRecordBatchException($"A batch holds at least one record; this one says {batch.RecordCount}.");
        }
        if (batch.RecordsLength < 0 || (batch.Codec == CompressionCodec.None && batch.RecordsLength != span.Length - HeaderSize))
        {
            throw new CorruptRecordBatchException("The records length does not match the batch size.");
        }
        if (batch.RecordsLength > maxRecordsLength)
        {
            throw new CorruptRecordBatchException(
                $"The batch's records are {batch.RecordsLength} bytes uncompressed; the limit is {maxRecordsLength}.");
        }
        return batch;
    }

    /// <summary>
    /// Parses and then walks every record, so a CRC-valid but malformed batch is refused too; the header's
    /// max timestamp must be the records' (retention trusts it).
    /// </summary>
    public static RecordBatch Validate(ReadOnlyMemory<byte> bytes, int maxRecordsLength = DefaultMaxRecordsLength)
    {
        var batch = Parse(bytes, maxRecordsLength);
        // Validation allocates nothing per batch or record: a compressed section is decompressed into a
        // pooled buffer, and headers are bounds-checked but not built.
        byte[]? pooled = null;
        try
        {
            ReadOnlyMemory<byte> section;
            if (batch.Codec == CompressionCodec.None)
            {
                section = bytes[HeaderSize..];
            }
            else
            {
                // Pooled up to a size the shared pool should keep; rarer, larger sections are collected.
                var buffer = batch.RecordsLength <= PooledDecompressionLimit
                    ? pooled = ArrayPool<byte>.Shared.Rent(batch.RecordsLength)
                    : new byte[batch.RecordsLength];
                section = buffer.AsMemory(0, batch.RecordsLength);
                BatchCompression.Decompress(batch.Codec, bytes.Span[HeaderSize..], buffer.AsSpan(0, batch.RecordsLength));
            }
            var count = 0;
            var maxTimestamp = long.MinValue;
            var records = new RecordEnumerator(section, batch.BaseOffset, batch.FirstTimestamp, batch.RecordCount, materializeHeaders: false);
            while (records.MoveNext())
            {
                count++;
                maxTimestamp = Math.Max(maxTimestamp, records.Current.Timestamp);
            }
            if (count != batch.RecordCount)
            {
                throw new CorruptRecordBatchException($"The header says {batch.RecordCount} records; the batch holds {count}.");
            }
            return maxTimestamp == batch.MaxTimestamp
                ? batch
                : throw new CorruptRecordBatchException($"The header's max timestamp {batch.MaxTimestamp} is not the records' {maxTimestamp}.");
        }
        finally
        {
            if (pooled is not null)
            {
                ArrayPool<byte>.Shared.Return(pooled);
            }
        }
    }

    /// <summary>The uncompressed records section (decompressed into a new buffer when compressed).</summary>
    public ReadOnlyMemory<byte> GetRecordsSection()
    {
        if (Codec == CompressionCodec.None)
        {
            return Bytes[HeaderSize..];
        }
        var length = RecordsLength;
        var records = new byte[length];
        BatchCompression.Decompress(Codec, Bytes.Span[HeaderSize..], records);
        return records;
    }

    public RecordEnumerator GetRecords() => new(GetRecordsSection(), BaseOffset, FirstTimestamp, RecordCount);

    /// <summary>Sets the base offset in place; the CRC does not cover it.</summary>
    public static void SetBaseOffset(Span<byte> batch, long baseOffset) =>
        BinaryPrimitives.WriteInt64LittleEndian(batch[BaseOffsetPosition..], baseOffset);

    /// <summary>
    /// A batch holding only the records at or after <paramref name="offset"/>: what a read from the middle
    /// of a batch returns. The result is uncompressed; its producer sequence moves with its first record.
    /// </summary>
    public byte[] TrimBefore(long offset)
    {
        if (offset <= BaseOffset)
        {
            return Bytes.ToArray();
        }
        if (offset >= NextOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The batch ends at {NextOffset - 1}.");
        }
        using var builder = new RecordBatchBuilder(Bytes.Length);
        foreach (var record in GetRecords())
        {
            if (record.Offset >= offset)
            {
                builder.Add(record.Key, record.Value.Span, record.Headers, record.Timestamp);
            }
        }
        var skipped = (int)(offset - BaseOffset);
        var trimmed = builder.Build(CompressionCodec.None, ProducerId, IsIdempotent ? NextSequence(BaseSequence, skipped) : NoSequence);
        SetBaseOffset(trimmed, offset);
        return trimmed;
    }

    /// <summary>
    /// A batch holding only the records before <paramref name="endOffset"/>: the end of a range read that stops
    /// mid-batch. The result is uncompressed; base offset and producer sequence stay.
    /// </summary>
    public byte[] TrimAfter(long endOffset)
    {
        if (endOffset >= NextOffset)
        {
            return Bytes.ToArray();
        }
        if (endOffset <= BaseOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(endOffset), endOffset, $"The batch starts at {BaseOffset}.");
        }
        using var builder = new RecordBatchBuilder(Bytes.Length);
        foreach (var record in GetRecords())
        {
            if (record.Offset < endOffset)
            {
                builder.Add(record.Key, record.Value.Span, record.Headers, record.Timestamp);
            }
        }
        var trimmed = builder.Build(CompressionCodec.None, ProducerId, BaseSequence);
        SetBaseOffset(trimmed, BaseOffset);
        return trimmed;
    }

    /// <summary>A copy of the batch under another producer id and sequence (records and compression as they are; the CRC recomputed).</summary>
    public byte[] WithProducer(long producerId, int baseSequence)
    {
        var copy = Bytes.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(copy.AsSpan(ProducerIdPosition), producerId);
        BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(BaseSequencePosition), baseSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(CrcPosition), Crc32C.Compute(copy.AsSpan(CrcCoveredStart)));
        return copy;
    }

    /// <summary>The same records compressed with <paramref name="codec"/> (the producer metadata kept).</summary>
    public byte[] Recompress(CompressionCodec codec)
    {
        if (codec == Codec)
        {
            return Bytes.ToArray();
        }
        var batch = Assemble(GetRecordsSection().Span, codec, RecordCount, FirstTimestamp, MaxTimestamp, ProducerId, BaseSequence);
        SetBaseOffset(batch, BaseOffset);
        return batch;
    }

    /// <summary>A whole batch from an uncompressed records section: compressed as asked, header and CRC written.</summary>
    internal static byte[] Assemble(
        ReadOnlySpan<byte> records, CompressionCodec codec, int count, long firstTimestamp, long maxTimestamp,
        long producerId, int baseSequence)
    {
        byte[] batch;
        if (codec == CompressionCodec.None)
        {
            batch = new byte[HeaderSize + records.Length];
            records.CopyTo(batch.AsSpan(HeaderSize));
        }
        else
        {
            var scratch = ArrayPool<byte>.Shared.Rent(BatchCompression.MaxCompressedLength(codec, records.Length));
            try
            {
                var compressed = BatchCompression.Compress(codec, records, scratch);
                batch = new byte[HeaderSize + compressed];
                scratch.AsSpan(0, compressed).CopyTo(batch.AsSpan(HeaderSize));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
        WriteHeader(batch, codec, count, firstTimestamp, maxTimestamp, producerId, baseSequence, records.Length);
        return batch;
    }

    internal static void WriteHeader(
        Span<byte> batch, CompressionCodec codec, int count, long firstTimestamp, long maxTimestamp,
        long producerId, int baseSequence, int recordsLength)
    {
        BinaryPrimitives.WriteInt64LittleEndian(batch[BaseOffsetPosition..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(batch[BatchLengthPosition..], batch.Length - LogOverhead);
        batch[MagicPosition] = CurrentMagic;
        batch[AttributesPosition] = (byte)codec;
        BinaryPrimitives.WriteInt32LittleEndian(batch[RecordCountPosition..], count);
        BinaryPrimitives.WriteInt64LittleEndian(batch[FirstTimestampPosition..], firstTimestamp);
        BinaryPrimitives.WriteInt64LittleEndian(batch[MaxTimestampPosition..], maxTimestamp);
        BinaryPrimitives.WriteInt64LittleEndian(batch[ProducerIdPosition..], producerId);
        BinaryPrimitives.WriteInt32LittleEndian(batch[BaseSequencePosition..], baseSequence);
        BinaryPrimitives.WriteInt32LittleEndian(batch[RecordsLengthPosition..], recordsLength);
        BinaryPrimitives.WriteUInt32LittleEndian(batch[CrcPosition..], Crc32C.Compute(batch[CrcCoveredStart..]));
    }

    /// <summary>Walks the records section; every length is bounds-checked, so malformed bytes throw.</summary>
    public struct RecordEnumerator
    {
        private readonly ReadOnlyMemory<byte> _records;
        private readonly long _baseOffset;
        private readonly long _firstTimestamp;
        private readonly int _count;
        private readonly bool _materializeHeaders;
        private int _position;
        private int _index;

        internal RecordEnumerator(ReadOnlyMemory<byte> records, long baseOffset, long firstTimestamp, int count, bool materializeHeaders = true)
        {
            _records = records;
            _materializeHeaders = materializeHeaders;
            _baseOffset = baseOffset;
            _firstTimestamp = firstTimestamp;
            _count = count;
            _position = 0;
            _index = 0;
            Current = default;
        }

        public Record Current { get; private set; }

        public readonly RecordEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            var span = _records.Span;
            if (_position >= span.Length)
            {
                return false;
            }
            if (_index >= _count)
            {
                throw new CorruptRecordBatchException($"The batch holds more records than its header's {_count}.");
            }
            var length = VarInt.ReadInt32(span, ref _position);
            var start = _position;
            // Compared before adding, so a huge length cannot wrap around.
            if (length == 0 || length > span.Length - start)
            {
                throw new CorruptRecordBatchException($"Record {_index} runs past the end of the batch.");
            }
            var end = start + length;
            var record = span[..end];
            var p = start;
            var timestamp = _firstTimestamp + VarInt.ReadZigZag64(record, ref p);
            var offsetDelta = VarInt.ReadInt32(record, ref p);
            if (offsetDelta != _index)
            {
                throw new CorruptRecordBatchException($"Record {_index} has offset delta {offsetDelta}; offsets in a batch are dense.");
            }
            var keyLength = VarInt.ReadInt32(record, ref p) - 1;
            // Typed null: a bare null here would convert to an empty key, not to no key.
            var key = keyLength < 0 ? (ReadOnlyMemory<byte>?)null : Slice(ref p, keyLength, end);
            var valueLength = VarInt.ReadInt32(record, ref p);
            var value = Slice(ref p, valueLength, end);
            var headerCount = VarInt.ReadInt32(record, ref p);
            IReadOnlyList<RecordHeader> headers = [];
            if (headerCount > 0)
            {
                if (headerCount > length)
                {
                    throw new CorruptRecordBatchException($"Record {_index} claims {headerCount} headers.");
                }
                var list = _materializeHeaders ? new RecordHeader[headerCount] : null;
                for (var i = 0; i < headerCount; i++)
                {
                    var nameLength = VarInt.ReadInt32(record, ref p);
                    var name = Slice(ref p, nameLength, end);
                    var headerValueLength = VarInt.ReadInt32(record, ref p);
                    var headerValue = Slice(ref p, headerValueLength, end);
                    if (list is not null)
                    {
                        list[i] = new RecordHeader(Encoding.UTF8.GetString(name.Span), headerValue);
                    }
                }
                headers = list ?? headers;
            }
            if (p != end)
            {
                throw new CorruptRecordBatchException($"Record {_index} has {end - p} bytes past its last field.");
            }
            _position = end;
            _index++;
            Current = new Record(_baseOffset + offsetDelta, timestamp, key, value, headers);
            return true;
        }

        private readonly ReadOnlyMemory<byte> Slice(ref int position, int length, int end)
        {
            if (length > end - position)
            {
                throw new CorruptRecordBatchException($"A field of record {_index} runs past the record's end.");
            }
            var slice = _records.Slice(position, length);
            position += length;
            return slice;
        }
    }
}
