using System.Globalization;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.Topics;
using StackExchange.Redis;

namespace Broker.Storage.Tiering;

/// <summary>A partition in the due set, and the time (unix ms) it is due.</summary>
public readonly record struct DuePartition(string Topic, int Partition, string TopicId, long Due, RedisValue Member);

/// <summary>
/// Which partitions have something to tier, and from when: one sorted set per broker, "{prefix}:tiering:due",
/// member "topic/partition/topicId", score the unix ms at which the partition next has batches to move (a full
/// segment past its budget: at once; a smaller excess: once it has waited the segment age; with hotMs: when
/// the oldest batch gets that old). A tiering pass reads only the members due by now, so an idle broker costs
/// one ZRANGEBYSCORE a pass however many partitions it holds.
/// <para>
/// The append script keeps the partition's own record ("tdue" in its meta hash, same slot as its stream) and
/// says when an append made the partition due earlier than that; the appender then adds it here (ZADD LT, fire
/// and forget: nothing waits for it). The due set is another Cluster slot than the partition, so the two cannot
/// change in one script; the order of steps keeps a partition from being dropped while it has work: a pass takes
/// the member out first, then settles the partition's state in one script (which sees every append before it),
/// then puts back what that script says (ZADD LT, so a concurrent append's earlier time wins). What a crash between
/// two steps can lose, the sweep finds: every <see cref="TieringOptions.SweepIntervalMs"/> one instance looks at
/// every partition once (and the first pass after start does too, which is also how partitions written before
/// the due set existed are found).
/// </para>
/// </summary>
public sealed class TieringSchedule(IConnectionMultiplexer redis, RedisKeys keys, TieringOptions options)
{
    private static readonly RedisScript s_settle = new(TieringScripts.Settle);
    private static readonly RedisValue[] s_sweepFields = ["bytes", "tdue"];

    private readonly RedisKey _due = keys.Prefix + ":tiering:due";
    private readonly RedisKey _sweepLease = keys.Prefix + ":tiering:sweep";

    private IDatabase Db => redis.GetDatabase();

    public static RedisValue MemberOf(TopicConfig topic, int partition) =>
        string.Create(CultureInfo.InvariantCulture, $"{topic.Name}/{partition}/{topic.Id}");

    /// <summary>The partition is due at <paramref name="due"/> (or earlier, if the set says so already). Fire and forget: the sweep repairs a lost one.</summary>
    public void Mark(TopicConfig topic, int partition, long due) =>
        Db.SortedSetAdd(_due, MemberOf(topic, partition), due, SortedSetWhen.LessThan, CommandFlags.FireAndForget);

    /// <summary>Every partition of the topic is due now (its budget changed): the next pass looks at each once.</summary>
    public async Task MarkAllAsync(TopicConfig topic, long now, CancellationToken cancellationToken)
    {
        var entries = Enumerable.Range(0, topic.Partitions).Select(p => new SortedSetEntry(MemberOf(topic, p), now)).ToArray();
        await Db.SortedSetAddAsync(_due, entries, SortedSetWhen.LessThan).WaitAsync(cancellationToken);
    }

    /// <summary>A deleted topic's partitions leave the set.</summary>
    public async Task ForgetAsync(TopicConfig topic, CancellationToken cancellationToken)
    {
        var members = Enumerable.Range(0, topic.Partitions).Select(p => MemberOf(topic, p)).ToArray();
        await Db.SortedSetRemoveAsync(_due, members).WaitAsync(cancellationToken);
    }

    /// <summary>The partitions due by <paramref name="now"/>, the most overdue first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<DuePartition>> DueAsync(long now, int max, CancellationToken cancellationToken)
    {
        var entries = await Db.SortedSetRangeByScoreWithScoresAsync(_due, double.NegativeInfinity, now, take: max).WaitAsync(cancellationToken);
        var due = new List<DuePartition>(entries.Length);
        foreach (var entry in entries)
        {
            var parts = ((string)entry.Element!).Split('/');
            if (parts.Length == 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
            {
                due.Add(new DuePartition(parts[0], partition, parts[2], (long)entry.Score, entry.Element));
            }
            else
            {
                await RemoveAsync(entry.Element, cancellationToken); // not ours: never written by this code
            }
        }
        return due;
    }

    /// <summary>Drops a member whose topic or partition is gone.</summary>
    public Task RemoveAsync(RedisValue member, CancellationToken cancellationToken) =>
        Db.SortedSetRemoveAsync(_due, member).WaitAsync(cancellationToken);

    /// <summary>
    /// After a pass looked at the partition: out of the set, then the partition's state settled in one script
    /// (<paramref name="due"/>, -1 for none, is the pass's own next time; the script takes the earlier of it and
    /// what the state says, where <paramref name="notBefore"/> holds back all but a full segment), then back in the
    /// set when something is due. Answers the due time, or -1.
    /// </summary>
    public async Task<long> SettleAsync(TopicConfig topic, int partition, long due, long notBefore, long now, CancellationToken cancellationToken)
    {
        var db = Db;
        var member = MemberOf(topic, partition);
        await db.SortedSetRemoveAsync(_due, member).WaitAsync(cancellationToken);
        RedisKey[] scriptKeys = [keys.Stream(topic.Name, topic.Id, partition), keys.Meta(topic.Name, topic.Id, partition)];
        var next = (long)await s_settle.EvaluateAsync(db, scriptKeys,
            [due, notBefore, topic.HotBytes, topic.HotMs, options.SegmentBytes, options.SegmentMaxAgeMs, now]).WaitAsync(cancellationToken);
        if (next >= 0)
        {
            await db.SortedSetAddAsync(_due, member, next, SortedSetWhen.LessThan).WaitAsync(cancellationToken);
        }
        return next;
    }

    /// <summary>
    /// True when this instance should sweep now: no instance swept within the sweep interval (a key with that TTL
    /// says one did). One SET a sweep interval per instance.
    /// </summary>
    public async Task<bool> TakeSweepAsync(string holder, CancellationToken cancellationToken) =>
        await Db.StringSetAsync(_sweepLease, holder, TimeSpan.FromMilliseconds(options.SweepIntervalMs), When.NotExists).WaitAsync(cancellationToken);

    /// <summary>
    /// The sweep for one topic: reads every partition's hot bytes and "tdue" (pipelined), and puts in the set each
    /// partition that may have something to tier (over its budget, or holding anything when the topic has hotMs) at
    /// its recorded due time (appends only ever make that earlier, so it is never late), or now when it has none
    /// (data written before the due set existed: the pass that looks at it settles the exact time). ZADD LT, so a
    /// member already there keeps an earlier time. Answers how many partitions it put in.
    /// </summary>
    public async Task<int> SweepAsync(TopicConfig topic, long now, CancellationToken cancellationToken)
    {
        var db = Db;
        var reads = new Task<RedisValue[]>[topic.Partitions];
        for (var p = 0; p < reads.Length; p++)
        {
            reads[p] = db.HashGetAsync(keys.Meta(topic.Name, topic.Id, p), s_sweepFields);
        }
        var states = await Task.WhenAll(reads).WaitAsync(cancellationToken);
        var entries = new List<SortedSetEntry>();
        for (var p = 0; p < states.Length; p++)
        {
            var bytes = states[p][0].IsNull ? 0 : (long)states[p][0];
            if (bytes > topic.HotBytes || (topic.HotMs >= 0 && bytes > 0))
            {
                entries.Add(new SortedSetEntry(MemberOf(topic, p), states[p][1].IsNull ? now : (long)states[p][1]));
            }
        }
        if (entries.Count > 0)
        {
            await db.SortedSetAddAsync(_due, [.. entries], SortedSetWhen.LessThan).WaitAsync(cancellationToken);
        }
        return entries.Count;
    }
}
