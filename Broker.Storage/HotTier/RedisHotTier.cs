using System.Globalization;
using Broker.Contracts.Batches;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Storage.HotTier;

/// <summary>
/// The hot tier in Redis Streams: one entry per batch, offsets assigned by <see cref="HotTierScripts.Append"/>
/// in one atomic script per append, reads by <see cref="HotTierScripts.Read"/>. StackExchange.Redis takes
/// no cancellation token, so waits are bounded with WaitAsync; a command given up on may still run,
/// which is why appends are idempotent for producers that give an id. Appends to acks=replicas topics go through
/// <see cref="ReplicatedAppends"/> (a dedicated connection, confirmed by WAIT in groups); acks=leader ones cost nothing more.
/// </summary>
internal sealed class RedisHotTier(IConnectionMultiplexer redis, RedisKeys keys, IOptions<StorageOptions> options, ReplicatedAppends replicated) : IHotTier
{
    private const int ReadStep = 16;
    private const int FindTimeEntriesPerCall = 1024;
    private static readonly RedisScript s_append = new(HotTierScripts.Append);
    private static readonly RedisScript s_read = new(HotTierScripts.Read);
    private static readonly RedisScript s_trim = new(HotTierScripts.Trim);
    private static readonly RedisScript s_findTime = new(Tiering.TieringScripts.FindTime);
    private static readonly RedisValue[] s_stateFields = ["next", "start", "bytes", "cstart", "cbytes"];

    private readonly string _producerTtlSeconds =
        (options.Value.ProducerStateTtlHours * 3600).ToString(CultureInfo.InvariantCulture);

    public bool IsDurable => true;

    private IDatabase Db => redis.GetDatabase();

    public async Task CreatePartitionsAsync(TopicConfig topic, int fromPartition, CancellationToken cancellationToken)
    {
        var db = Db;
        var tasks = new List<Task>(topic.Partitions - fromPartition);
        for (var p = fromPartition; p < topic.Partitions; p++)
        {
            tasks.Add(db.HashSetAsync(keys.Meta(topic.Name, topic.Id, p), "next", 0, When.NotExists));
        }
        await Task.WhenAll(tasks).WaitAsync(cancellationToken);
    }

    public async Task DeletePartitionsAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var db = Db;
        var tasks = new List<Task>(topic.Partitions);
        for (var p = 0; p < topic.Partitions; p++)
        {
            // UNLINK frees a large stream off Redis's main thread; one command per partition (one slot) keeps
            // it Cluster-safe. The manifest goes too (its objects were the cold tier's to delete first).
            tasks.Add(db.ExecuteAsync("UNLINK", (RedisKey)keys.Stream(topic.Name, topic.Id, p), (RedisKey)keys.Meta(topic.Name, topic.Id, p),
                (RedisKey)Tiering.SegmentManifest.ManifestKey(keys, topic, p)));
        }
        await Task.WhenAll(tasks).WaitAsync(cancellationToken);
    }

    public async Task<AppendOutcome> AppendAsync(
        TopicConfig topic, int partition, ReadOnlyMemory<byte> batch, BatchIdentity identity, AppendPolicy policy, CancellationToken cancellationToken)
    {
        var meta = keys.Meta(topic.Name, topic.Id, partition);
        RedisKey[] scriptKeys =
        [
            keys.Stream(topic.Name, topic.Id, partition),
            meta,
            identity.IsIdempotent ? keys.Producer(topic.Name, topic.Id, partition, identity.ProducerId) : meta,
        ];
        RedisValue[] values =
        [
            batch,
            identity.RecordCount,
            identity.IsIdempotent ? identity.ProducerId : RedisValue.EmptyString,
            identity.BaseSequence,
            keys.AppendsChannelName,
            string.Create(CultureInfo.InvariantCulture, $"{topic.Name} {partition}"),
            _producerTtlSeconds,
            policy.HardLimitBytes,
            policy.HotBytes,
            policy.HotMs,
            policy.SegmentBytes,
            policy.SegmentMaxAgeMs,
            policy.NowMs,
            topic.Acks == TopicAcks.Replicas ? "1" : RedisValue.EmptyString,
        ];
        RedisResult result;
        ReplicaConfirmation? confirmation = null;
        try
        {
            if (topic.Acks == TopicAcks.Replicas)
            {
                (result, var confirmed) = await replicated.AppendAsync(scriptKeys, values, cancellationToken);
                confirmation = confirmed;
            }
            else
            {
                result = await s_append.EvaluateAsync(Db, scriptKeys, values).WaitAsync(cancellationToken);
            }
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOPARTITION", StringComparison.Ordinal))
        {
            return new AppendOutcome(AppendStatus.PartitionNotFound, -1, -1);
        }
        var r = (RedisResult[])result!;
        var status = (int)r[0] switch
        {
            0 => AppendStatus.Appended,
            1 => AppendStatus.Duplicate,
            3 => AppendStatus.HotTierFull,
            _ => AppendStatus.OutOfOrderSequence,
        };
        return new AppendOutcome(status, (long)r[1], (long)r[2], (long)r[3], (long)r[4], confirmation);
    }

    public async Task<HotRead> ReadAsync(TopicConfig topic, int partition, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        RedisKey[] scriptKeys = [keys.Stream(topic.Name, topic.Id, partition), keys.Meta(topic.Name, topic.Id, partition)];
        RedisValue[] values = [offset, maxBytes, ReadStep];
        RedisResult result;
        try
        {
            result = await s_read.EvaluateAsync(Db, scriptKeys, values).WaitAsync(cancellationToken);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOPARTITION", StringComparison.Ordinal))
        {
            return new HotRead(ReadStatus.PartitionNotFound, [], -1, -1);
        }
        var r = (RedisResult[])result!;
        var start = (long)r[1];
        var end = (long)r[2];
        if ((int)r[0] != 0)
        {
            return new HotRead(ReadStatus.OffsetOutOfRange, [], start, end);
        }
        var batches = new byte[(r.Length - 3) / 2][];
        for (var i = 0; i < batches.Length; i++)
        {
            var baseOffset = ParseBaseOffset((string)r[3 + (i * 2)]!);
            var batch = (byte[])r[4 + (i * 2)]!;
            RecordBatch.SetBaseOffset(batch, baseOffset);
            batches[i] = batch;
        }
        return new HotRead(ReadStatus.Ok, batches, start, end);
    }

    public async Task<IReadOnlyList<PartitionState>> DescribeAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var db = Db;
        var tasks = new Task<RedisValue[]>[topic.Partitions];
        for (var p = 0; p < tasks.Length; p++)
        {
            tasks[p] = db.HashGetAsync(keys.Meta(topic.Name, topic.Id, p), s_stateFields);
        }
        var all = await Task.WhenAll(tasks).WaitAsync(cancellationToken);
        var states = new PartitionState[all.Length];
        for (var p = 0; p < all.Length; p++)
        {
            states[p] = ToState(p, all[p]);
        }
        return states;
    }

    public async Task<byte[]?> FindTimeAsync(TopicConfig topic, int partition, long timestamp, CancellationToken cancellationToken)
    {
        RedisKey[] scriptKeys = [keys.Stream(topic.Name, topic.Id, partition), keys.Meta(topic.Name, topic.Id, partition)];
        RedisValue from = "-";
        while (true)
        {
            // A bounded scan per call: a long stream is looked through in several short scripts, not one long one.
            var r = (RedisResult[])(await s_findTime.EvaluateAsync(Db, scriptKeys, [timestamp, 64, from, FindTimeEntriesPerCall])
                .WaitAsync(cancellationToken))!;
            if (r.Length < 2)
            {
                return null;
            }
            var id = (string)r[0]!;
            if (id.Length == 0)
            {
                from = (string)r[1]!;
                continue;
            }
            var batch = (byte[])r[1]!;
            RecordBatch.SetBaseOffset(batch, ParseBaseOffset(id));
            return batch;
        }
    }

    public async Task<PartitionState> DescribePartitionAsync(TopicConfig topic, int partition, CancellationToken cancellationToken) =>
        ToState(partition, await Db.HashGetAsync(keys.Meta(topic.Name, topic.Id, partition), s_stateFields).WaitAsync(cancellationToken));

    public async Task<TrimResult> TrimAsync(
        TopicConfig topic, int partition, long minTimestamp, long maxBytes, int maxBatches, CancellationToken cancellationToken)
    {
        RedisKey[] scriptKeys =
            [keys.Stream(topic.Name, topic.Id, partition), keys.Meta(topic.Name, topic.Id, partition), Tiering.SegmentManifest.ManifestKey(keys, topic, partition)];
        var r = (RedisResult[])(await s_trim.EvaluateAsync(Db, scriptKeys, [minTimestamp, maxBytes, maxBatches]).WaitAsync(cancellationToken))!;
        return new TrimResult((int)r[0], (long)r[1], r.Length > 3 && (int)r[2] == 1 ? (long)r[3] : null);
    }

    private static PartitionState ToState(int partition, RedisValue[] v) => v[0].IsNull
        ? new PartitionState(partition, 0, 0, 0, Exists: false)
        : new PartitionState(partition, v[1].IsNull ? 0 : (long)v[1], (long)v[0], v[2].IsNull ? 0 : (long)v[2],
            ColdStartOffset: v[3].IsNull ? -1 : (long)v[3], ColdBytes: v[4].IsNull ? 0 : (long)v[4]);

    /// <summary>Entry IDs are "baseOffset-recordCount".</summary>
    private static long ParseBaseOffset(string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        return long.Parse(id.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
