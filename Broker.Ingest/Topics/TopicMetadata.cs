using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Ingest.Producing;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Broker.Ingest.Topics;

/// <summary>What producing needs of a topic: its partition count, batch compression, and the subject its values must match (null: unchecked).</summary>
public sealed record TopicInfo(string Name, int Partitions, CompressionCodec Compression, string? SchemaSubject = null);

/// <summary>Topic metadata from Storage, cached briefly so a produce request does not ask Storage each time.</summary>
public sealed class TopicMetadata(LogService.LogServiceClient storage, TimeProvider time, IOptions<IngestOptions> options)
{
    private readonly ConcurrentDictionary<string, (TopicInfo Info, long ExpiresAt)> _cache = new(StringComparer.Ordinal);
    private readonly long _ttlTicks = TimeSpan.FromSeconds(options.Value.TopicCacheSeconds).Ticks;

    /// <summary>The topic, or null when Storage does not know it; a <see cref="ProduceException"/> (Unavailable) when Storage cannot be asked.</summary>
    public async ValueTask<TopicInfo?> FindAsync(string topic, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcTicks;
        if (_cache.TryGetValue(topic, out var cached) && cached.ExpiresAt > now)
        {
            return cached.Info;
        }
        DescribeTopicResponse described;
        try
        {
            described = await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic }, cancellationToken: cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            _cache.TryRemove(topic, out _);
            return null;
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Storage down, or not reached at all (a TLS handshake refused is INTERNAL to grpc-dotnet): 503 / UNAVAILABLE, as a failed append is.
            throw new ProduceException(ProduceError.Unavailable, $"Storage could not be asked about topic '{topic}': {ex.Status.Detail}", ex);
        }
        var info = new TopicInfo(topic, described.Partitions.Count, ParseCodec(described.Compression),
            string.IsNullOrEmpty(described.SchemaSubject) ? null : described.SchemaSubject);
        _cache[topic] = (info, now + _ttlTicks);
        return info;
    }

    public void Forget(string topic) => _cache.TryRemove(topic, out _);

    /// <summary>The topic's compression as last read from Storage, fresh or not (batching reads it per batch).</summary>
    public CompressionCodec LastKnownCompression(string topic) =>
        _cache.TryGetValue(topic, out var cached) ? cached.Info.Compression : CompressionCodec.None;

    private static CompressionCodec ParseCodec(string codec) => codec switch
    {
        "lz4" => CompressionCodec.Lz4,
        "zstd" => CompressionCodec.Zstd,
        _ => CompressionCodec.None,
    };
}
