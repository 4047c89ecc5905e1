using System.Buffers;
using System.Text;

namespace Broker.Contracts.Batches;

/// <summary>
/// Builds one record batch: records are encoded straight into a pooled buffer as they are added, then
/// <see cref="Build"/> writes the header, compresses if asked, and computes the CRC. Reusable after
/// <see cref="Reset"/>; not thread-safe.
/// </summary>
public sealed class RecordBatchBuilder : IDisposable
{
    private byte[] _buffer;
    private byte[]? _compressed; // BuildInPlace's output for a compressed batch, pooled and reused
    private int _length; // bytes of the records section written so far (after the header space)
    private long _firstTimestamp;
    private long _maxTimestamp;

    public RecordBatchBuilder(int initialCapacity = 16 * 1024)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(RecordBatchLayout.HeaderSize + Math.Max(initialCapacity, 256));
    }

    public int Count { get; private set; }

    /// <summary>The size the batch would have uncompressed; what batching limits compare against.</summary>
    public int SizeInBytes => RecordBatchLayout.HeaderSize + _length;

    /// <summary>The encoded size of a record, before it is added (for batch size limits).</summary>
    public static int EstimateRecordSize(int keyLength, int valueLength, IReadOnlyList<RecordHeader>? headers)
    {
        var size = VarInt.MaxLength32 + VarInt.MaxLength64 + VarInt.MaxLength32 * 4 + keyLength + valueLength;
        if (headers is not null)
        {
            foreach (var header in headers)
            {
                size += VarInt.MaxLength32 * 2 + Encoding.UTF8.GetMaxByteCount(header.Name.Length) + header.Value.Length;
            }
        }
        return size;
    }

    public void Add(ReadOnlySpan<byte> value, long timestamp) => Add(null, value, null, timestamp);

    public void Add(ReadOnlyMemory<byte>? key, ReadOnlySpan<byte> value, IReadOnlyList<RecordHeader>? headers, long timestamp) =>
        Add(key, value, headers, default, timestamp);

    /// <summary>
    /// Adds a record with one more header after <paramref name="headers"/> (none when its name is null):
    /// how a producer stamps every record (a traceparent, say) without building a header list per record.
    /// </summary>
    public void Add(ReadOnlyMemory<byte>? key, ReadOnlySpan<byte> value, IReadOnlyList<RecordHeader>? headers, RecordHeader extraHeader, long timestamp)
    {
        var keySpan = key.HasValue ? key.Value.Span : default;
        if (Count == 0)
        {
            _firstTimestamp = timestamp;
            _maxTimestamp = timestamp;
        }
        else if (timestamp > _maxTimestamp)
        {
            _maxTimestamp = timestamp;
        }

        var headerCount = headers?.Count ?? 0;
        var hasExtra = extraHeader.Name is not null;
        // Encode the body first (its length prefixes it), sized generously, then move it once.
        var maxBody = EstimateRecordSize(keySpan.Length, value.Length, headers);
        if (hasExtra)
        {
            maxBody += VarInt.MaxLength32 * 2 + Encoding.UTF8.GetMaxByteCount(extraHeader.Name!.Length) + extraHeader.Value.Length;
        }
        EnsureCapacity(VarInt.MaxLength32 + maxBody);

        var bodyStart = RecordBatchLayout.HeaderSize + _length + VarInt.MaxLength32;
        var body = _buffer.AsSpan(bodyStart);
        var p = VarInt.WriteZigZag(body, timestamp - _firstTimestamp);
        p += VarInt.Write(body[p..], (uint)Count);
        if (key.HasValue)
        {
            p += VarInt.Write(body[p..], (uint)keySpan.Length + 1);
            keySpan.CopyTo(body[p..]);
            p += keySpan.Length;
        }
        else
        {
            p += VarInt.Write(body[p..], 0u);
        }
        p += VarInt.Write(body[p..], (uint)value.Length);
        value.CopyTo(body[p..]);
        p += value.Length;
        p += VarInt.Write(body[p..], (uint)(headerCount + (hasExtra ? 1 : 0)));
        for (var i = 0; i < headerCount; i++)
        {
            p += WriteHeader(body[p..], headers![i]);
        }
        if (hasExtra)
        {
            p += WriteHeader(body[p..], extraHeader);
        }

        // Write the length prefix right before the body and close the gap it leaves.
        var recordStart = RecordBatchLayout.HeaderSize + _length;
        var prefixLength = VarInt.Write(_buffer.AsSpan(recordStart), (uint)p);
        if (prefixLength != VarInt.MaxLength32)
        {
            _buffer.AsSpan(bodyStart, p).CopyTo(_buffer.AsSpan(recordStart + prefixLength));
        }
        _length += prefixLength + p;
        Count++;
    }

    private static int WriteHeader(Span<byte> destination, RecordHeader header)
    {
        var nameLength = Encoding.UTF8.GetByteCount(header.Name);
        var p = VarInt.Write(destination, (uint)nameLength);
        p += Encoding.UTF8.GetBytes(header.Name, destination[p..]);
        p += VarInt.Write(destination[p..], (uint)header.Value.Length);
        header.Value.Span.CopyTo(destination[p..]);
        return p + header.Value.Length;
    }

    /// <summary>
    /// Finishes the batch in the builder's own (pooled) memory, with no copy of the records when
    /// uncompressed: header, optional compression, CRC. The bytes stay valid until the next Add, Reset or
    /// Build; building again (another producer id, say) rewrites them.
    /// </summary>
    public ReadOnlyMemory<byte> BuildInPlace(
        CompressionCodec codec = CompressionCodec.None,
        long producerId = RecordBatchLayout.NoProducerId,
        int baseSequence = RecordBatchLayout.NoSequence)
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("A batch needs at least one record.");
        }
        var records = _buffer.AsSpan(RecordBatchLayout.HeaderSize, _length);
        Span<byte> batch;
        if (codec == CompressionCodec.None)
        {
            batch = _buffer.AsSpan(0, RecordBatchLayout.HeaderSize + _length);
        }
        else
        {
            var needed = RecordBatchLayout.HeaderSize + BatchCompression.MaxCompressedLength(codec, _length);
            if (_compressed is null || _compressed.Length < needed)
            {
                if (_compressed is not null)
                {
                    ArrayPool<byte>.Shared.Return(_compressed);
                }
                _compressed = ArrayPool<byte>.Shared.Rent(needed);
            }
            var compressed = BatchCompression.Compress(codec, records, _compressed.AsSpan(RecordBatchLayout.HeaderSize));
            batch = _compressed.AsSpan(0, RecordBatchLayout.HeaderSize + compressed);
        }
        RecordBatch.WriteHeader(batch, codec, Count, _firstTimestamp, _maxTimestamp, producerId, baseSequence, _length);
        return codec == CompressionCodec.None
            ? _buffer.AsMemory(0, batch.Length)
            : _compressed.AsMemory(0, batch.Length);
    }

    /// <summary>Finishes the batch: header, optional compression, CRC. Base offset is 0 until the log assigns one.</summary>
    public byte[] Build(
        CompressionCodec codec = CompressionCodec.None,
        long producerId = RecordBatchLayout.NoProducerId,
        int baseSequence = RecordBatchLayout.NoSequence)
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("A batch needs at least one record.");
        }
        return RecordBatch.Assemble(_buffer.AsSpan(RecordBatchLayout.HeaderSize, _length), codec, Count,
            _firstTimestamp, _maxTimestamp, producerId, baseSequence);
    }

    public void Reset()
    {
        _length = 0;
        Count = 0;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (_compressed is { } compressed)
        {
            _compressed = null;
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    private void EnsureCapacity(int extra)
    {
        var needed = RecordBatchLayout.HeaderSize + _length + extra;
        if (needed <= _buffer.Length)
        {
            return;
        }
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, RecordBatchLayout.HeaderSize + _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
