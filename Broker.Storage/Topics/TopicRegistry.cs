using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.Storage.HotTier;
using Broker.Storage.Log;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Topics;

/// <summary>What a PUT of a topic may do, as the caller's right was checked: make it (create) or change it (alter).</summary>
public enum TopicChange
{
    Create,
    Alter,
}

/// <summary>
/// Creates, changes and deletes topics (configuration plus partition state), and answers "which topic
/// is this" from a short-lived cache, so an append does not read the configuration from Redis each time.
/// </summary>
public sealed class TopicRegistry(
    ITopicStore store, IHotTier hotTier, TimeProvider time, IOptions<StorageOptions> options, ILogger<TopicRegistry> logger,
    Groups.IGroupOffsetStore groups, Tiering.ColdTier? coldTier = null)
{
    private readonly ConcurrentDictionary<string, (TopicConfig Config, long ExpiresAt)> _cache = new(StringComparer.Ordinal);
    private const int MaxUpdateAttempts = 20;
    private readonly long _cacheTicks = TimeSpan.FromSeconds(options.Value.TopicCacheSeconds).Ticks;

    /// <summary>
    /// The topic, from the cache when fresh. Null when it does not exist. Only topics are kept, never a miss: the names
    /// asked for are the callers' to choose, so a cache of each would grow without bound. A name the rules refuse is not
    /// looked up at all: no topic has one.
    /// </summary>
    public async ValueTask<TopicConfig?> FindAsync(string name, CancellationToken cancellationToken, bool refresh = false)
    {
        if (TopicValidation.CheckName(name) is not null)
        {
            return null;
        }
        var now = time.GetUtcNow().UtcTicks;
        if (!refresh && _cache.TryGetValue(name, out var cached) && cached.ExpiresAt > now)
        {
            return cached.Config;
        }
        var config = await store.GetAsync(name, cancellationToken);
        if (config is null)
        {
            _cache.TryRemove(name, out _);
            return null;
        }
        _cache[name] = (config, now + _cacheTicks);
        return config;
    }

    /// <summary>The topic, or a TopicNotFound error (whose message quotes a name the rules refuse only as far as they do).</summary>
    public async ValueTask<TopicConfig> GetAsync(string name, CancellationToken cancellationToken, bool refresh = false) =>
        await FindAsync(name, cancellationToken, refresh)
        ?? throw new LogException(LogError.TopicNotFound,
            TopicValidation.CheckName(name) is { } illegal ? $"No such topic: {illegal}" : $"Topic '{name}' does not exist.");

    /// <summary>The topic and a partition number known to be in it (re-reading once, in case partitions were added).</summary>
    public async ValueTask<TopicConfig> GetPartitionAsync(string name, int partition, CancellationToken cancellationToken)
    {
        var topic = await GetAsync(name, cancellationToken);
        if (partition >= 0 && partition < topic.Partitions)
        {
            return topic;
        }
        topic = await GetAsync(name, cancellationToken, refresh: true);
        return partition >= 0 && partition < topic.Partitions
            ? topic
            : throw new LogException(LogError.PartitionNotFound,
                $"Topic '{name}' has partitions 0 to {topic.Partitions - 1}; there is no partition {partition}.");
    }

    public Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <summary>
    /// Creates the topic (<see cref="TopicChange.Create"/>) or changes it (<see cref="TopicChange.Alter"/>): only what
    /// the caller's right was checked for. A topic another caller created (or deleted) since is a
    /// <see cref="LogError.TopicChanged"/> refusal, never the other change. Partitions may grow, never shrink (keys
    /// would move under consumers).
    /// </summary>
    public async Task<(TopicConfig Topic, bool Created)> CreateOrUpdateAsync(string name, TopicSpec spec, TopicChange change, CancellationToken cancellationToken)
    {
        var (codec, acks) = Parse(spec);
        // Optimistic: read, change, compare-and-set; a concurrent change or delete makes us read again.
        for (var attempt = 0; attempt < MaxUpdateAttempts; attempt++)
        {
            var existing = await store.GetAsync(name, cancellationToken);
            if (existing is null)
            {
                if (change == TopicChange.Alter)
                {
                    throw new LogException(LogError.TopicChanged, $"Topic '{name}' was deleted after this request was checked for changing it.");
                }
                if (await TryCreateAsync(name, spec, codec, acks, cancellationToken) is { } created)
                {
                    return (created, true);
                }
                continue;
            }
            if (change == TopicChange.Create)
            {
                throw new LogException(LogError.TopicChanged, $"Topic '{name}' was created by another caller after this request was checked for creating it.");
            }
            var partitions = spec.Partitions ?? existing.Partitions;
            if (partitions < existing.Partitions)
            {
                throw new LogException(LogError.InvalidArgument,
                    $"Topic '{name}' has {existing.Partitions} partitions; partitions can be added but not removed.");
            }
            var updated = existing with
            {
                Version = existing.Version + 1,
                Partitions = partitions,
                RetentionMs = spec.RetentionMs ?? existing.RetentionMs,
                RetentionBytes = spec.RetentionBytes ?? existing.RetentionBytes,
                HotBytes = spec.HotBytes ?? existing.HotBytes,
                HotMs = spec.HotMs ?? existing.HotMs,
                SchemaSubject = spec.SchemaSubject ?? existing.SchemaSubject,
                SchemaValidation = spec.SchemaValidation ?? (spec.SchemaSubject is not null || existing.SchemaValidation),
                MaxDeliveryAttempts = spec.MaxDeliveryAttempts ?? existing.MaxDeliveryAttempts,
                DeadLetterTopic = spec.DeadLetterTopic ?? existing.DeadLetterTopic,
                Compression = spec.Compression is null ? existing.Compression : codec,
                MessageTtlMs = spec.MessageTtlMs ?? existing.MessageTtlMs,
                Acks = spec.Acks is null ? existing.Acks : acks,
            };
            if (partitions > existing.Partitions)
            {
                // A cheap look first, so a request past the limit creates no partition state; the store's
                // atomic check below is what holds under concurrency.
                CheckRoom(await store.TotalsAsync(cancellationToken), partitions - existing.Partitions);
                // Idempotent (HSETNX): a retry after a lost race finds them already there.
                await hotTier.CreatePartitionsAsync(updated, existing.Partitions, cancellationToken);
            }
            var write = await store.TryUpdateAsync(existing, updated, Limits, cancellationToken);
            if (write.Status == TopicWriteStatus.Written)
            {
                Forget(name);
                if (coldTier is not null && (updated.HotBytes < existing.HotBytes || updated.HotMs != existing.HotMs))
                {
                    // A smaller budget can make partitions due with no append to say so: the next tiering pass looks at each once.
                    await coldTier.Schedule.MarkAllAsync(updated, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
                }
                return (updated, false);
            }
            if (write.Status == TopicWriteStatus.TooManyPartitions)
            {
                // The partitions made above stay (empty): another caller growing the topic at the same time may
                // have made and committed the same ones, so they are not ours to delete.
                throw PartitionLimit(write.Totals, partitions - existing.Partitions);
            }
            // Each round one writer wins; a short random pause spreads the others out.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 5 * (attempt + 2))), time, cancellationToken);
        }
        throw new LogException(LogError.InvalidArgument, $"Topic '{name}' kept changing concurrently; try again.");
    }

    /// <summary>Creates the topic unless it exists; an existing topic (one a concurrent caller made, too) is left as it is.</summary>
    public async Task<(TopicConfig Topic, bool Created)> CreateIfMissingAsync(string name, TopicSpec spec, CancellationToken cancellationToken)
    {
        var (codec, acks) = Parse(spec);
        for (var attempt = 0; attempt < MaxUpdateAttempts; attempt++)
        {
            if (await store.GetAsync(name, cancellationToken) is { } existing)
            {
                return (existing, false);
            }
            if (await TryCreateAsync(name, spec, codec, acks, cancellationToken) is { } created)
            {
                return (created, true);
            }
        }
        throw new LogException(LogError.InvalidArgument, $"Topic '{name}' kept changing concurrently; try again.");
    }

    /// <summary>Creates the topic, or answers null when another caller created one of that name first.</summary>
    private async Task<TopicConfig?> TryCreateAsync(string name, TopicSpec spec, CompressionCodec codec, TopicAcks acks, CancellationToken cancellationToken)
    {
        var partitions = spec.Partitions ?? 1;
        var totals = await store.TotalsAsync(cancellationToken);
        if (totals.Topics >= options.Value.MaxTopics)
        {
            throw TopicLimit(totals);
        }
        CheckRoom(totals, partitions);
        var topic = new TopicConfig
        {
            Name = name,
            Id = Guid.NewGuid().ToString("N")[..12],
            Partitions = partitions,
            RetentionMs = spec.RetentionMs ?? TopicDefaults.RetentionMs,
            RetentionBytes = spec.RetentionBytes ?? -1,
            HotBytes = spec.HotBytes ?? TopicDefaults.HotBytes,
            HotMs = spec.HotMs ?? -1,
            SchemaSubject = spec.SchemaSubject,
            SchemaValidation = spec.SchemaValidation ?? spec.SchemaSubject is not null,
            MaxDeliveryAttempts = spec.MaxDeliveryAttempts ?? TopicDefaults.MaxDeliveryAttempts,
            DeadLetterTopic = spec.DeadLetterTopic,
            Compression = codec,
            MessageTtlMs = spec.MessageTtlMs ?? -1,
            Acks = acks,
            CreatedAt = time.GetUtcNow(),
        };
        // Partition state first: a topic is only visible once every partition can take appends.
        await hotTier.CreatePartitionsAsync(topic, 0, cancellationToken);
        var write = await store.TryCreateAsync(topic, Limits, cancellationToken);
        if (write.Status == TopicWriteStatus.Written)
        {
            Forget(name);
            StorageLog.TopicCreated(logger, name, topic.Partitions);
            return topic;
        }
        // Another caller created it first, or took the room left: ours was never visible, and its id is ours alone.
        await hotTier.DeletePartitionsAsync(topic, cancellationToken);
        return write.Status switch
        {
            TopicWriteStatus.TooManyTopics => throw TopicLimit(write.Totals),
            TopicWriteStatus.TooManyPartitions => throw PartitionLimit(write.Totals, partitions),
            _ => null,
        };
    }

    /// <summary>The specification's codec and acks (the API checked them; gRPC's EnsureTopic names neither).</summary>
    private (CompressionCodec Codec, TopicAcks Acks) Parse(TopicSpec spec)
    {
        if (!TopicValidation.TryParseCodec(spec.Compression, out var codec))
        {
            throw new LogException(LogError.InvalidArgument, $"compression must be none, lz4 or zstd; got '{spec.Compression}'.");
        }
        if (!TopicValidation.TryParseAcks(spec.Acks, out var acks))
        {
            throw new LogException(LogError.InvalidArgument, $"acks must be leader or replicas; got '{spec.Acks}'.");
        }
        if (acks == TopicAcks.Replicas && !hotTier.IsDurable)
        {
            // Nothing could ever confirm it: every append would be refused.
            throw new LogException(LogError.InvalidArgument,
                "acks=replicas needs the Redis hot tier (ConnectionStrings:redis) with replicas; this Storage keeps the hot tier in process memory.");
        }
        return (codec, acks);
    }

    private TopicLimits Limits => new(options.Value.MaxTopics, options.Value.MaxPartitions);

    private void CheckRoom(TopicTotals totals, int more)
    {
        if (totals.Partitions + more > options.Value.MaxPartitions)
        {
            throw PartitionLimit(totals, more);
        }
    }

    private LogException PartitionLimit(TopicTotals totals, int more) => new(LogError.LimitReached,
        $"The broker holds {totals.Partitions} partitions; {more} more would pass Storage:MaxPartitions ({options.Value.MaxPartitions}). "
        + "Delete topics or raise the setting.");

    private LogException TopicLimit(TopicTotals totals) => new(LogError.LimitReached,
        $"The broker holds {totals.Topics} topics; one more would pass Storage:MaxTopics ({options.Value.MaxTopics}). "
        + "Delete topics or raise the setting.");

    /// <summary>
    /// Deletes the topic: configuration first (so nothing new finds it), then its segments, its partitions, and the offsets
    /// groups committed in it.
    /// </summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        var existing = await store.GetAsync(name, cancellationToken);
        if (existing is null || !await store.DeleteAsync(existing, cancellationToken))
        {
            return false;
        }
        Forget(name);
        if (coldTier is not null)
        {
            await coldTier.DeletePartitionsAsync(existing, cancellationToken);
        }
        await hotTier.DeletePartitionsAsync(existing, cancellationToken);
        await groups.DeleteTopicAsync(existing, cancellationToken);
        StorageLog.TopicDeleted(logger, name);
        return true;
    }

    public void Forget(string name) => _cache.TryRemove(name, out _);
}
