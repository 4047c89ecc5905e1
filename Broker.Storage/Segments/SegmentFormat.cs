using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Broker.Contracts.Batches;

namespace Broker.Storage.Segments;

/// <summary>
/// The layout of a segment: an immutable object holding a run of one partition's batches. Integers are
/// little-endian.
/// <code>
/// data          the batches back to back, each as the hot tier held it (base offset set)   [0, dataLength)
/// offset index  entries × { base offset i64, position i64 }: the first batch, then the first batch
///               at or past every IndexIntervalBytes of data
/// time index    entries × { max timestamp i64, position i64 }: the largest max timestamp of the
///               batches from that entry's position up to the next entry's
/// footer        80 bytes: magic "BSEG", format version, base offset, next offset, record count, batch
///               count, first timestamp, max timestamp, data length, index entries, data CRC-32C,
///               reserved, and last the CRC-32C of everything from the offset index to here
/// </code>
/// A reader fetches the tail (indexes and footer, whose size the manifest knows) once, then only the byte
/// ranges of data it needs; every batch carries its own CRC, checked when it is read.
/// </summary>
public static class SegmentFormat
{
    public const uint Magic = 0x47455342; // "BSEG"
    public const int Version = 1;
    public const int FooterSize = 80;
    public const int IndexEntrySize = 16;

    /// <summary>Where a partition's segment starting at <paramref name="baseOffset"/> lives: names sort by offset.</summary>
    public static string ObjectName(string prefix, string topic, int partition, long baseOffset) =>
        string.Create(CultureInfo.InvariantCulture, $"{(prefix.Length == 0 ? "" : prefix.TrimEnd('/') + "/")}{topic}/{partition}/{baseOffset:D20}.seg");

    /// <summary>The bytes after the data: both indexes and the footer.</summary>
    public static long TailLength(int indexEntries) => (2L * indexEntries * IndexEntrySize) + FooterSize;
}

/// <summary>What the manifest keeps of a segment, and what a reader needs before opening it.</summary>
public sealed record SegmentInfo(long BaseOffset, long NextOffset, long RecordCount, int BatchCount,
    long FirstTimestamp, long MaxTimestamp, long DataLength, long Size)
{
    /// <summary>The manifest's form: the fields comma-separated, in declaration order.</summary>
    public string Serialize() => string.Create(CultureInfo.InvariantCulture,
        $"{BaseOffset},{NextOffset},{RecordCount},{BatchCount},{FirstTimestamp},{MaxTimestamp},{DataLength},{Size}");

    public static SegmentInfo Parse(string text)
    {
        var f = text.Split(',');
        if (f.Length != 8)
        {
            throw new FormatException($"A manifest entry has 8 fields; got '{text}'.");
        }
        long L(int i) => long.Parse(f[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return new SegmentInfo(L(0), L(1), L(2), (int)L(3), L(4), L(5), L(6), L(7));
    }

    public bool Contains(long offset) => offset >= BaseOffset && offset < NextOffset;
}

/// <summary>
/// Builds one segment in memory from batches in offset order. The buffer is kept across segments
/// (<see cref="Reset"/>), so a tiering worker allocates it once.
/// </summary>
public sealed class SegmentWriter(int indexIntervalBytes)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024 * 1024);
    private readonly List<(long BaseOffset, long Position, long MaxTimestamp)> _index = [];
    private long _baseOffset = -1;
    private long _nextOffset;
    private long _records;
    private int _batches;
    private long _firstTimestamp;
    private long _maxTimestamp = long.MinValue;
    private long _lastIndexed = long.MinValue;

    public long DataLength => _buffer.WrittenCount;

    public int BatchCount => _batches;

    public long NextOffset => _nextOffset;

    public void Reset()
    {
        _buffer.ResetWrittenCount();
        _index.Clear();
        _baseOffset = -1;
        _records = 0;
        _batches = 0;
        _maxTimestamp = long.MinValue;
        _lastIndexed = long.MinValue;
    }

    /// <summary>Appends a batch; it must follow the previous one without a gap.</summary>
    public void Add(RecordBatch batch)
    {
        if (_baseOffset < 0)
        {
            _baseOffset = batch.BaseOffset;
            _firstTimestamp = batch.FirstTimestamp;
        }
        else if (batch.BaseOffset != _nextOffset)
        {
            throw new InvalidOperationException($"Batch at {batch.BaseOffset} does not follow the segment's end {_nextOffset}.");
        }
        var position = _buffer.WrittenCount;
        if (_index.Count == 0 || position - _lastIndexed >= indexIntervalBytes)
        {
            _index.Add((batch.BaseOffset, position, batch.MaxTimestamp));
            _lastIndexed = position;
        }
        else
        {
            var last = _index[^1];
            _index[^1] = last with { MaxTimestamp = Math.Max(last.MaxTimestamp, batch.MaxTimestamp) };
        }
        batch.Bytes.Span.CopyTo(_buffer.GetSpan(batch.Bytes.Length));
        _buffer.Advance(batch.Bytes.Length);
        _nextOffset = batch.NextOffset;
        _records += batch.RecordCount;
        _batches++;
        _maxTimestamp = Math.Max(_maxTimestamp, batch.MaxTimestamp);
    }

    /// <summary>Writes the indexes and the footer; answers the whole segment (valid until the next Reset) and its description.</summary>
    public (ReadOnlyMemory<byte> Bytes, SegmentInfo Info) Finish()
    {
        if (_batches == 0)
        {
            throw new InvalidOperationException("A segment holds at least one batch.");
        }
        var dataLength = _buffer.WrittenCount;
        var dataCrc = Crc32C.Compute(_buffer.WrittenSpan);
        var tailLength = (int)SegmentFormat.TailLength(_index.Count);
        var tail = _buffer.GetSpan(tailLength)[..tailLength];
        var at = 0;
        foreach (var (baseOffset, position, _) in _index)
        {
            BinaryPrimitives.WriteInt64LittleEndian(tail[at..], baseOffset);
            BinaryPrimitives.WriteInt64LittleEndian(tail[(at + 8)..], position);
            at += SegmentFormat.IndexEntrySize;
        }
        foreach (var (_, position, maxTimestamp) in _index)
        {
            BinaryPrimitives.WriteInt64LittleEndian(tail[at..], maxTimestamp);
            BinaryPrimitives.WriteInt64LittleEndian(tail[(at + 8)..], position);
            at += SegmentFormat.IndexEntrySize;
        }
        var footer = tail[at..];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, SegmentFormat.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(footer[4..], SegmentFormat.Version);
        BinaryPrimitives.WriteInt64LittleEndian(footer[8..], _baseOffset);
        BinaryPrimitives.WriteInt64LittleEndian(footer[16..], _nextOffset);
        BinaryPrimitives.WriteInt64LittleEndian(footer[24..], _records);
        BinaryPrimitives.WriteInt32LittleEndian(footer[32..], _batches);
        BinaryPrimitives.WriteInt64LittleEndian(footer[36..], _firstTimestamp);
        BinaryPrimitives.WriteInt64LittleEndian(footer[44..], _maxTimestamp);
        BinaryPrimitives.WriteInt64LittleEndian(footer[52..], dataLength);
        BinaryPrimitives.WriteInt32LittleEndian(footer[60..], _index.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(footer[64..], dataCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(footer[68..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(footer[72..], 0);
        var tailCrc = Crc32C.Compute(tail[..(tailLength - 4)]);
        BinaryPrimitives.WriteUInt32LittleEndian(footer[76..], tailCrc);
        _buffer.Advance(tailLength);
        var info = new SegmentInfo(_baseOffset, _nextOffset, _records, _batches, _firstTimestamp, _maxTimestamp, dataLength, _buffer.WrittenCount);
        return (_buffer.WrittenMemory, info);
    }
}

/// <summary>A segment's indexes and footer, read from its tail: where to start reading for an offset or a time.</summary>
public sealed class SegmentIndex
{
    private readonly long[] _offsets;
    private readonly long[] _positions;
    private readonly long[] _maxTimestamps;

    private SegmentIndex(long[] offsets, long[] positions, long[] maxTimestamps, long dataLength, uint dataCrc)
    {
        _offsets = offsets;
        _positions = positions;
        _maxTimestamps = maxTimestamps;
        DataLength = dataLength;
        DataCrc = dataCrc;
    }

    public long DataLength { get; }

    public uint DataCrc { get; }

    /// <summary>The bytes this index holds in memory (for the cache's size accounting).</summary>
    public long MemorySize => 24L * _offsets.Length + 64;

    /// <summary>Parses the tail (indexes and footer) of the segment <paramref name="info"/> describes; throws on any inconsistency.</summary>
    public static SegmentIndex Parse(ReadOnlySpan<byte> tail, SegmentInfo info)
    {
        if (tail.Length < SegmentFormat.FooterSize)
        {
            throw new InvalidDataException($"Segment {info.BaseOffset}: its tail is {tail.Length} bytes, shorter than the footer.");
        }
        var footer = tail[^SegmentFormat.FooterSize..];
        if (BinaryPrimitives.ReadUInt32LittleEndian(footer) != SegmentFormat.Magic)
        {
            throw new InvalidDataException($"Segment {info.BaseOffset}: no segment footer (bad magic).");
        }
        var version = BinaryPrimitives.ReadInt32LittleEndian(footer[4..]);
        if (version != SegmentFormat.Version)
        {
            throw new InvalidDataException($"Segment {info.BaseOffset}: format version {version} is not supported (this build reads {SegmentFormat.Version}).");
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(footer[76..]) != Crc32C.Compute(tail[..^4]))
        {
            throw new InvalidDataException($"Segment {info.BaseOffset}: the checksum of its indexes and footer does not match.");
        }
        var entries = BinaryPrimitives.ReadInt32LittleEndian(footer[60..]);
        var dataLength = BinaryPrimitives.ReadInt64LittleEndian(footer[52..]);
        if (entries < 1 || tail.Length != SegmentFormat.TailLength(entries)
            || BinaryPrimitives.ReadInt64LittleEndian(footer[8..]) != info.BaseOffset
            || BinaryPrimitives.ReadInt64LittleEndian(footer[16..]) != info.NextOffset
            || dataLength != info.DataLength)
        {
            throw new InvalidDataException($"Segment {info.BaseOffset}: its footer does not match the manifest ({info.Serialize()}).");
        }
        var offsets = new long[entries];
        var positions = new long[entries];
        var maxTimestamps = new long[entries];
        var timeStart = entries * SegmentFormat.IndexEntrySize;
        for (var i = 0; i < entries; i++)
        {
            var at = i * SegmentFormat.IndexEntrySize;
            offsets[i] = BinaryPrimitives.ReadInt64LittleEndian(tail[at..]);
            positions[i] = BinaryPrimitives.ReadInt64LittleEndian(tail[(at + 8)..]);
            maxTimestamps[i] = BinaryPrimitives.ReadInt64LittleEndian(tail[(timeStart + at)..]);
        }
        return new SegmentIndex(offsets, positions, maxTimestamps, dataLength, BinaryPrimitives.ReadUInt32LittleEndian(footer[64..]));
    }

    /// <summary>The position of the last indexed batch starting at or before <paramref name="offset"/>: scan forward from there.</summary>
    public long PositionOf(long offset)
    {
        var i = Array.BinarySearch(_offsets, offset);
        return _positions[i >= 0 ? i : Math.Max(0, ~i - 1)];
    }

    /// <summary>
    /// Where to scan from for the first batch whose max timestamp is at or past <paramref name="timestamp"/>
    /// (that batch holds the earliest such record); -1 when no batch here reaches it.
    /// </summary>
    public long PositionOfTime(long timestamp)
    {
        for (var i = 0; i < _maxTimestamps.Length; i++)
        {
            if (_maxTimestamps[i] >= timestamp)
            {
                return _positions[i];
            }
        }
        return -1;
    }
}
