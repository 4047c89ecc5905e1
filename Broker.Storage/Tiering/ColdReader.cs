using System.Buffers.Binary;
using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;
using Microsoft.Extensions.Caching.Memory;

namespace Broker.Storage.Tiering;

/// <summary>Batches read from the cold tier: whole batches from the one holding the asked offset, and the segment they came from.</summary>
public sealed record ColdRead(IReadOnlyList<byte[]> Batches, SegmentInfo Segment);

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

    public ColdReader(ISegmentStore store, SegmentManifest manifest, TieringOptions options, TieringMetrics metrics, string prefix)
    {
        _store = store;
        _manifest = manifest;
        _options = options;
        _metrics = metrics;
        _prefix = prefix;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, options.CacheBytes) });
    }

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
        var batches = new List<byte[]>();
        var bytes = 0L;
        var position = index.PositionOf(offset);
        var context = new ReadContext(topic, partition, segment, name);
        while (position < segment.DataLength && bytes < maxBytes)
        {
            var batch = await BatchAtAsync(context, position, cancellationToken);
            position += batch.Length;
            if (RecordBatch.Parse(batch).NextOffset <= offset)
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
                var bytes = await BatchAtAsync(context, position, cancellationToken);
                position += bytes.Length;
                var batch = RecordBatch.Parse(bytes);
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
        }
    }

    private async Task<byte[]> BatchAtAsync(ReadContext context, long position, CancellationToken cancellationToken)
    {
        var (segment, name) = (context.Segment, context.Name);
        var head = await RangeAsync(context, position, RecordBatchLayout.LogOverhead, cancellationToken);
        var length = RecordBatchLayout.LogOverhead + (long)BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(RecordBatchLayout.BatchLengthPosition));
        if (length < RecordBatchLayout.HeaderSize || position + length > segment.DataLength)
        {
            throw new InvalidDataException($"Segment {name}: the batch at byte {position} claims {length} bytes, past the data's end {segment.DataLength}.");
        }
        var batch = await RangeAsync(context, position, (int)length, cancellationToken);
        try
        {
            RecordBatch.Parse(batch);
        }
        catch (CorruptRecordBatchException ex)
        {
            throw new InvalidDataException($"Segment {name}: the batch at byte {position} is corrupt: {ex.Message}", ex);
        }
        return batch;
    }

    /// <summary>Bytes [position, position + length) of the segment's data, put together from its chunks.</summary>
    private async Task<byte[]> RangeAsync(ReadContext context, long position, int length, CancellationToken cancellationToken)
    {
        var result = new byte[length];
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
        return result;
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
                _ = ReadAheadAsync(context, chunk);
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
        if (first)
        {
            _metrics.CacheMiss();
        }
        return await FetchAsync(key, context.Segment.DataLength).WaitAsync(cancellationToken);
    }

    /// <summary>One GET per chunk however many readers want it: they share the fetch under way.</summary>
    private Task<byte[]> FetchAsync(ChunkKey key, long dataLength)
    {
        var fetch = _fetching.GetOrAdd(key, k => Task.Run(async () =>
        {
            try
            {
                var start = k.Chunk * _options.ChunkBytes;
                var buffer = new byte[(int)Math.Min(_options.ChunkBytes, dataLength - start)];
                var read = await _store.ReadAsync(k.Name, start, buffer, CancellationToken.None);
                if (read != buffer.Length)
                {
                    throw new InvalidDataException($"Segment {k.Name} is shorter than its manifest says (byte {start + read} of {dataLength}).");
                }
                _cache.Set(k, buffer, new MemoryCacheEntryOptions { Size = buffer.Length });
                return buffer;
            }
            finally
            {
                _fetching.TryRemove(k, out _);
            }
        }));
        return fetch;
    }

    private async Task ReadAheadAsync(ReadContext context, long chunk)
    {
        try
        {
            var (topic, partition) = (context.Topic, context.Partition);
            var segments = await _manifest.CachedAsync(topic, partition, CancellationToken.None);
            var fetches = new List<Task>();
            var current = context.Segment;
            var next = chunk + 1;
            for (var i = 0; i < _options.ReadAheadChunks; i++)
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
                if (!_cache.TryGetValue(key, out _))
                {
                    fetches.Add(FetchAsync(key, current.DataLength));
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
    }

    /// <summary>A chunk of an object's data; chunk -1 is its index.</summary>
    private readonly record struct ChunkKey(string Name, long Chunk);
}
