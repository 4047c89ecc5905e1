using System.Buffers.Binary;
using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;
using Microsoft.Extensions.Caching.Memory;

namespace Broker.Storage.Tiering;

/// <summary>
/// Batches read from the cold tier: whole batches from the one holding the asked offset, and the segment they
/// came from. A batch inside one chunk is a slice of the cached chunk (never written to), else a copy.
/// </summary>
public sealed record ColdRead(IReadOnlyList<ReadOnlyMemory<byte>> Batches, SegmentInfo Segment);

/// <summary>
/// Reads segments back: the manifest names the segment, its tail (indexes and footer, cached) gives the
/// position, and the data comes in ranged GETs of Storage:Tiering:ChunkBytes through a local cache with a
/// size limit. A sequential reader has the next chunks fetched ahead in parallel, across the segment's end
/// into the next one, so catching up or replaying from S3 rarely waits for a GET.
/// </summary>
public sealed class ColdReader : IDisposable
{
    private readonly ISegmentStore _store;
    private readonly SegmentManifest _manifest;
    private readonly TieringOptions _options;
    private readonly TieringMetrics _metrics;
    private readonly string _prefix;
    private readonly MemoryCache _cache;
    private readonly ConcurrentDictionary<ChunkKey, Task<byte[]>> _fetching = new();
    private readonly ConcurrentDictionary<ChunkKey, (byte[] Data, long At)> _ahead = new();

    public ColdReader(ISegmentStore store, SegmentManifest manifest, TieringOptions options, TieringMetrics metrics, string prefix)
    {
        _store = store;
        _manifest = manifest;
        _options = options;
        _metrics = metrics;
        _prefix = prefix;
        // A full cache refuses new entries until it has compacted; streaming readers need room at once, so a
        // compaction frees a quarter (least recently used first) rather than the default 5%.
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, options.CacheBytes), CompactionPercentage = 0.25 });
    }

    /// <summary>What every segment object's name starts with ("" or "prefix/").</summary>
    public string NamePrefix => _prefix.Length == 0 ? "" : _prefix.TrimEnd('/') + "/";

    public string ObjectName(TopicConfig topic, int partition, SegmentInfo segment) =>
        SegmentFormat.ObjectName(_prefix, topic.Name, partition, segment.BaseOffset);

    /// <summary>Whole batches from the one holding <paramref name="offset"/>, up to about <paramref name="maxBytes"/>; null when no segment holds it.</summary>
    public async Task<ColdRead?> ReadAsync(TopicConfig topic, int partition, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        var segment = await _manifest.FindAsync(topic, partition, offset, cancellationToken);
        if (segment is null)
        {
            return null;
        }
        _metrics.ColdRead(topic.Name);
        var name = ObjectName(topic, partition, segment);
        var index = await IndexAsync(name, segment, cancellationToken);
        var batches = new List<ReadOnlyMemory<byte>>();
        var bytes = 0L;
        var position = index.PositionOf(offset);
        var context = new ReadContext(topic, partition, segment, name);
        if (_options.ReadAheadChunks > 0)
        {
            // The whole read's chunks at once, and the read-ahead past it: the reader is about to need them in turn.
            _ = ReadAheadAsync(context, (position / _options.ChunkBytes) - 1, (maxBytes / _options.ChunkBytes) + 1 + _options.ReadAheadChunks);
        }
        while (position < segment.DataLength && bytes < maxBytes)
        {
            var (batch, parsed) = await BatchAtAsync(context, position, cancellationToken);
            position += batch.Length;
            if (parsed.NextOffset <= offset)
            {
                continue; // before the asked offset: the index is sparse
            }
            batches.Add(batch);
            bytes += batch.Length;
        }
        return new ColdRead(batches, segment);
    }

    /// <summary>The earliest record in the cold tier at or past <paramref name="timestamp"/>, or null when none is.</summary>
    public async Task<(long Offset, long Timestamp)?> FindTimeAsync(TopicConfig topic, int partition, long timestamp, CancellationToken cancellationToken)
    {
        foreach (var segment in await _manifest.ListAsync(topic, partition, cancellationToken))
        {
            if (segment.MaxTimestamp < timestamp)
            {
                continue;
            }
            var name = ObjectName(topic, partition, segment);
            var index = await IndexAsync(name, segment, cancellationToken);
            var position = index.PositionOfTime(timestamp);
            var context = new ReadContext(topic, partition, segment, name);
            while (position >= 0 && position < segment.DataLength)
            {
                var (bytes, batch) = await BatchAtAsync(context, position, cancellationToken);
                position += bytes.Length;
                if (batch.MaxTimestamp < timestamp)
                {
                    continue;
                }
                foreach (var record in batch.GetRecords())
                {
                    if (record.Timestamp >= timestamp)
                    {
                        return (record.Offset, record.Timestamp);
                    }
                }
            }
        }
        return null;
    }

    /// <summary>Forgets what the cache holds of an object (retention deleted it).</summary>
    public void Evict(string name, SegmentInfo segment)
    {
        _cache.Remove(new ChunkKey(name, -1));
        for (var chunk = 0L; chunk * _options.ChunkBytes < segment.DataLength; chunk++)
        {
            _cache.Remove(new ChunkKey(name, chunk));
            _ahead.TryRemove(new ChunkKey(name, chunk), out _);
        }
    }

    /// <summary>
    /// The batch at <paramref name="position"/> of the data, checked (framing and CRC): a slice of its chunk when
    /// it lies inside one (no copy), else copied together from the chunks it spans.
    /// </summary>
    private async Task<(ReadOnlyMemory<byte> Bytes, RecordBatch Batch)> BatchAtAsync(ReadContext context, long position, CancellationToken cancellationToken)
    {
        var (segment, name) = (context.Segment, context.Name);
        await RangeAsync(context, position, context.Head, cancellationToken);
        var length = RecordBatchLayout.LogOverhead + (long)BinaryPrimitives.ReadInt32LittleEndian(context.Head.AsSpan(RecordBatchLayout.BatchLengthPosition));
        if (length < RecordBatchLayout.HeaderSize || position + length > segment.DataLength)
        {
            throw new InvalidDataException($"Segment {name}: the batch at byte {position} claims {length} bytes, past the data's end {segment.DataLength}.");
        }
        ReadOnlyMemory<byte> bytes;
        var chunk = position / _options.ChunkBytes;
        var inChunk = (int)(position - (chunk * _options.ChunkBytes));
        if (inChunk + length <= _options.ChunkBytes)
        {
            bytes = (await ChunkAsync(context, chunk, cancellationToken)).AsMemory(inChunk, (int)length);
        }
        else
        {
            // Every byte is written by the copy: no need to zero the array first.
            var copy = GC.AllocateUninitializedArray<byte>((int)length);
            await RangeAsync(context, position, copy, cancellationToken);
            bytes = copy;
        }
        try
        {
            return (bytes, RecordBatch.Parse(bytes));
        }
        catch (CorruptRecordBatchException ex)
        {
            throw new InvalidDataException($"Segment {name}: the batch at byte {position} is corrupt: {ex.Message}", ex);
        }
    }

    /// <summary>Fills <paramref name="result"/> with the bytes of the segment's data from <paramref name="position"/>, put together from its chunks.</summary>
    private async Task RangeAsync(ReadContext context, long position, byte[] result, CancellationToken cancellationToken)
    {
        var length = result.Length;
        var done = 0;
        while (done < length)
        {
            var at = position + done;
            var chunk = at / _options.ChunkBytes;
            var data = await ChunkAsync(context, chunk, cancellationToken);
            var inChunk = (int)(at - (chunk * _options.ChunkBytes));
            var take = Math.Min(length - done, data.Length - inChunk);
            if (take <= 0)
            {
                throw new InvalidDataException($"Segment {context.Name} ends before byte {at} of its data.");
            }
            data.AsSpan(inChunk, take).CopyTo(result.AsSpan(done));
            done += take;
        }
    }

    private async Task<byte[]> ChunkAsync(ReadContext context, long chunk, CancellationToken cancellationToken)
    {
        var key = new ChunkKey(context.Name, chunk);
        var first = chunk != context.LastChunk;
        if (first)
        {
            // Reading on sequentially (the start, the next chunk, or one after a cached chunk): fetch ahead.
            if (_options.ReadAheadChunks > 0
                && (chunk == 0 || chunk == context.LastChunk + 1 || _cache.TryGetValue(new ChunkKey(context.Name, chunk - 1), out _)))
            {
                _ = ReadAheadAsync(context, chunk, _options.ReadAheadChunks);
            }
            context.LastChunk = chunk;
        }
        if (_cache.TryGetValue(key, out byte[]? cached))
        {
            if (first)
            {
                _metrics.CacheHit();
            }
            return cached!;
        }
        if (_ahead.TryRemove(key, out var fetched))
        {
            if (first)
            {
                _metrics.CacheHit();
            }
            return Keep(key, fetched.Data);
        }
        if (first)
        {
            _metrics.CacheMiss();
        }
        var data = await FetchAsync(key, context.Segment.DataLength, ahead: false).WaitAsync(cancellationToken);
        _ahead.TryRemove(key, out _); // a read-ahead under way that this reader joined
        return data;
    }

    /// <summary>A chunk a reader just used goes to the cache, for the readers after it.</summary>
    private byte[] Keep(ChunkKey key, byte[] data)
    {
        _cache.Set(key, data, new MemoryCacheEntryOptions { Size = data.Length });
        return data;
    }

    /// <summary>
    /// One GET per chunk however many readers want it: they share the fetch under way. A chunk fetched ahead
    /// waits for its reader in <see cref="_ahead"/>, not in the cache, where a full cache could drop it first.
    /// </summary>
    private Task<byte[]> FetchAsync(ChunkKey key, long dataLength, bool ahead)
    {
        var fetch = _fetching.GetOrAdd(key, k => Task.Run(async () =>
        {
            try
            {
                var start = k.Chunk * _options.ChunkBytes;
                var buffer = GC.AllocateUninitializedArray<byte>((int)Math.Min(_options.ChunkBytes, dataLength - start));
                var read = await _store.ReadAsync(k.Name, start, buffer, CancellationToken.None);
                if (read != buffer.Length)
                {
                    throw new InvalidDataException($"Segment {k.Name} is shorter than its manifest says (byte {start + read} of {dataLength}).");
                }
                if (ahead)
                {
                    _ahead[k] = (buffer, Environment.TickCount64);
                }
                else
                {
                    Keep(k, buffer);
                }
                return buffer;
            }
            finally
            {
                _fetching.TryRemove(k, out _);
            }
        }));
        return fetch;
    }

    /// <summary>Fetches the <paramref name="count"/> chunks after <paramref name="chunk"/> that are neither cached nor on their way.</summary>
    private async Task ReadAheadAsync(ReadContext context, long chunk, int count)
    {
        try
        {
            var (topic, partition) = (context.Topic, context.Partition);
            var segments = await _manifest.CachedAsync(topic, partition, CancellationToken.None);
            var fetches = new List<Task>();
            var current = context.Segment;
            var next = chunk + 1;
            for (var i = 0; i < count; i++)
            {
                if (next * _options.ChunkBytes >= current.DataLength)
                {
                    // On into the next segment, whose data starts with a batch: no index needed to fetch it.
                    var following = Array.Find(segments, s => s.BaseOffset == current.NextOffset);
                    if (following is null)
                    {
                        break;
                    }
                    current = following;
                    next = 0;
                }
                var key = new ChunkKey(ObjectName(topic, partition, current), next);
                if (!_cache.TryGetValue(key, out _) && !_ahead.ContainsKey(key))
                {
                    if (!RoomAhead())
                    {
                        break;
                    }
                    fetches.Add(FetchAsync(key, current.DataLength, ahead: true));
                }
                next++;
            }
            await Task.WhenAll(fetches);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Read-ahead is a guess: a reader that gets there fetches the chunk itself and sees the error.
        }
    }

    /// <summary>
    /// Whether another chunk may be fetched ahead: chunks waiting for their readers take at most half the
    /// cache's budget; ones nobody came for within a minute are let go first.
    /// </summary>
    private bool RoomAhead()
    {
        var limit = Math.Max(_options.ReadAheadChunks, _options.CacheBytes / 2 / _options.ChunkBytes);
        if (_ahead.Count < limit)
        {
            return true;
        }
        var stale = Environment.TickCount64 - 60_000;
        foreach (var (key, entry) in _ahead)
        {
            if (entry.At < stale)
            {
                _ahead.TryRemove(key, out _);
            }
        }
        return _ahead.Count < limit;
    }

    private async Task<SegmentIndex> IndexAsync(string name, SegmentInfo segment, CancellationToken cancellationToken)
    {
        var key = new ChunkKey(name, -1);
        if (_cache.TryGetValue(key, out SegmentIndex? cached))
        {
            return cached!;
        }
        var tail = new byte[segment.Size - segment.DataLength];
        var read = await _store.ReadAsync(name, segment.DataLength, tail, cancellationToken);
        var index = SegmentIndex.Parse(tail.AsSpan(0, read), segment);
        _cache.Set(key, index, new MemoryCacheEntryOptions { Size = index.MemorySize, Priority = CacheItemPriority.High });
        return index;
    }

    public void Dispose() => _cache.Dispose();

    /// <summary>One read's place: which segment, and the chunk it last touched (to tell sequential reading).</summary>
    private sealed class ReadContext(TopicConfig topic, int partition, SegmentInfo segment, string name)
    {
        public TopicConfig Topic { get; } = topic;
        public int Partition { get; } = partition;
        public SegmentInfo Segment { get; } = segment;
        public string Name { get; } = name;
        public long LastChunk { get; set; } = -2;

        /// <summary>Room for a batch's length prefix, read before the batch itself.</summary>
        public byte[] Head { get; } = new byte[RecordBatchLayout.LogOverhead];
    }

    /// <summary>A chunk of an object's data; chunk -1 is its index.</summary>
    private readonly record struct ChunkKey(string Name, long Chunk);
}
