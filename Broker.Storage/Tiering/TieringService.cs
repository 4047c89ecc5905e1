using System.Collections.Concurrent;
using Broker.Contracts.Batches;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.HotTier;
using Broker.Storage.Segments;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Storage.Tiering;

/// <summary>
/// Moves the oldest batches of every partition whose hot tier is over its topic's budget (hotBytes, and
/// hotMs when set) into segments: under a Redis lease per partition (one instance tiers a partition), it
/// reads the batches, writes the segment in one PUT, then records it in the manifest and trims the stream
/// in one atomic step. A crash after the PUT is repaired by the next run, which finds the hot tier where it
/// was and writes the same object name again: no gap, no duplicate. A segment is cut at
/// Storage:Tiering:SegmentBytes or once batches have waited SegmentMaxAgeMs, never per batch.
/// <para>
/// A pass looks only at the partitions the <see cref="TieringSchedule"/> says are due by now (appends put them
/// there), so its work follows the partitions with data to move, not the partitions there are; every
/// SweepIntervalMs (and on the first pass) one instance also sweeps every partition for any the due set missed.
/// </para>
/// </summary>
public sealed class TieringService(
    TopicRegistry topics, IHotTier hotTier, ColdTier cold, IConnectionMultiplexer redis, RedisKeys keys,
    TieringMetrics metrics, TimeProvider time, IOptions<TieringOptions> options, ILogger<TieringService> logger) : BackgroundService
{
    private const int ReadStepBytes = 4 * 1024 * 1024;
    private const int MaxSegmentsPerPass = 64;
    /// <summary>The most partitions one pass looks at; the rest (still due) go to the next pass, most overdue first.</summary>
    private const int MaxPartitionsPerPass = 4096;
    private readonly TieringOptions _options = options.Value;
    private readonly string _holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<(string TopicId, int Partition), long> _waitingSince = new();
    private readonly ConcurrentDictionary<(string TopicId, int Partition), (long Start, long MaxTimestamp)> _oldest = new();
    private readonly ConcurrentBag<SegmentWriter> _writers = [];
    private long _nextSweep = long.MinValue;

    /// <summary>Tests: runs after a segment's upload and before its commit (throw to act out a crash there).</summary>
    internal Func<TopicConfig, int, SegmentInfo, Task>? AfterUpload { get; set; }

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.IntervalMs), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                StorageLog.TieringPassFailed(logger, ex);
            }
        }
    }

    /// <summary>One pass over the partitions due by now (and a sweep when one is due); answers how many segments were written.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        if (now >= Interlocked.Read(ref _nextSweep))
        {
            Interlocked.Exchange(ref _nextSweep, now + _options.SweepIntervalMs);
            await SweepAsync(now, cancellationToken);
        }
        var due = await cold.Schedule.DueAsync(now, MaxPartitionsPerPass, cancellationToken);
        if (due.Count == 0)
        {
            return 0;
        }
        var written = 0;
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = cancellationToken },
            async (item, ct) => Interlocked.Add(ref written, await VisitAsync(item, now, ct)));
        return written;
    }

    /// <summary>Every partition once, unless another instance swept within the interval; a failed sweep is tried again next pass.</summary>
    private async Task SweepAsync(long now, CancellationToken cancellationToken)
    {
        try
        {
            if (!await cold.Schedule.TakeSweepAsync(_holder, cancellationToken))
            {
                return;
            }
            var all = await topics.ListAsync(cancellationToken);
            var marked = 0;
            foreach (var topic in all)
            {
                marked += await cold.Schedule.SweepAsync(topic, now, cancellationToken);
            }
            StorageLog.TieringSwept(logger, all.Count, all.Sum(t => t.Partitions), marked);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _nextSweep, now);
            StorageLog.TieringSweepFailed(logger, ex.Message);
        }
    }

    /// <summary>One due partition: tiers what is due, then settles when it is next due (or that it is not).</summary>
    private async Task<int> VisitAsync(DuePartition item, long now, CancellationToken cancellationToken)
    {
        var topic = await topics.FindAsync(item.Topic, cancellationToken);
        if (topic is null || topic.Id != item.TopicId)
        {
            topic = await topics.FindAsync(item.Topic, cancellationToken, refresh: true);
        }
        if (topic is null || topic.Id != item.TopicId || item.Partition >= topic.Partitions)
        {
            await cold.Schedule.RemoveAsync(item.Member, cancellationToken); // the topic was deleted (and perhaps made again)
            return 0;
        }
        var key = (topic.Id, item.Partition);
        // Unless the pass says otherwise: look again at the next pass (a failure, another instance's lease).
        var (written, next, notBefore) = (0, now + _options.IntervalMs, -1L);
        try
        {
            var state = await hotTier.DescribePartitionAsync(topic, item.Partition, cancellationToken);
            if (!state.Exists)
            {
                await cold.Schedule.RemoveAsync(item.Member, cancellationToken);
                return 0;
            }
            (written, next, notBefore) = await TierAsync(topic, state, item.Due, now, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The segment store may be down: the hot tier keeps the batches, the next pass tries again.
            StorageLog.TieringFailed(logger, topic.Name, item.Partition, ex.Message);
        }
        // Not cancelled part way (by shutdown, or another partition's failure ending the pass): a member taken out
        // and not put back would wait for the next sweep. Redis's command timeout bounds it.
        if (await cold.Schedule.SettleAsync(topic, item.Partition, next, notBefore, Now, CancellationToken.None) < 0)
        {
            _waitingSince.TryRemove(key, out _);
            _oldest.TryRemove(key, out _);
            metrics.SetLag(topic.Name, item.Partition, 0, 0);
        }
        return written;
    }

    /// <summary>
    /// Tiers what is due of one partition. Answers the segments written, when to look again (-1: only when the
    /// partition's state says so), and a time before which only a full segment should bring it back (-1: none):
    /// set while batches wait for the segment age.
    /// </summary>
    private async Task<(int Written, long Next, long NotBefore)> TierAsync(TopicConfig topic, PartitionState state, long due, long now, CancellationToken cancellationToken)
    {
        var key = (topic.Id, state.Partition);
        var excess = state.Bytes - topic.HotBytes;
        var aged = topic.HotMs >= 0 && state.Bytes > 0
            && await OldestTimestampAsync(topic, state, cancellationToken) < now - topic.HotMs;
        if (excess <= 0 && !aged)
        {
            _waitingSince.TryRemove(key, out _);
            metrics.SetLag(topic.Name, state.Partition, 0, 0);
            return (0, -1, -1);
        }
        // Waiting since this instance first saw it, or, new to it, since the due time says: a small excess is due
        // a segment age after it began, an aged batch once it was old enough, a full segment at once.
        var since = _waitingSince.GetOrAdd(key, Math.Min(now, due - _options.SegmentMaxAgeMs));
        metrics.SetLag(topic.Name, state.Partition, Math.Max(excess, 0), (now - since) / 1000.0);
        // Too little waits for a full segment, and not for long: one PUT per segment, not one per pass.
        if (!aged && excess < _options.SegmentBytes && now - since < _options.SegmentMaxAgeMs)
        {
            return (0, since + _options.SegmentMaxAgeMs, since + _options.SegmentMaxAgeMs);
        }
        if (!await LeaseAsync(topic, state.Partition, cancellationToken))
        {
            return (0, now + _options.IntervalMs, -1); // another Storage instance tiers this partition
        }
        if (!_writers.TryTake(out var writer))
        {
            writer = new SegmentWriter(_options.IndexIntervalBytes);
        }
        try
        {
            var start = state.StartOffset;
            var written = 0;
            for (var round = 0; round < MaxSegmentsPerPass; round++)
            {
                writer.Reset();
                var full = await FillAsync(writer, topic, state.Partition, start, excess, now, cancellationToken);
                if (writer.BatchCount == 0 || (!full && now - since < _options.SegmentMaxAgeMs))
                {
                    break;
                }
                var (bytes, segment) = writer.Finish();
                var name = cold.Reader.ObjectName(topic, state.Partition, segment);
                await cold.Store.PutAsync(name, bytes, cancellationToken);
                if (AfterUpload is { } hook)
                {
                    await hook(topic, state.Partition, segment);
                }
                var (status, offset) = await cold.Manifest.CommitAsync(topic, state.Partition, segment, cancellationToken);
                if (status != CommitStatus.Committed)
                {
                    // Another run committed first, or retention moved the hot tier: the next pass looks again.
                    StorageLog.TieringStale(logger, topic.Name, state.Partition, offset, segment.BaseOffset);
                    return (written, now, -1);
                }
                written++;
                metrics.Uploaded(topic.Name, segment.Size);
                StorageLog.SegmentTiered(logger, topic.Name, state.Partition, segment.BaseOffset, segment.NextOffset, segment.Size, segment.BatchCount, name);
                start = segment.NextOffset;
                excess -= segment.DataLength;
                since = now;
                _waitingSince[key] = now;
                if (!full)
                {
                    break;
                }
            }
            metrics.SetLag(topic.Name, state.Partition, Math.Max(excess, 0), 0);
            // After a cut, the partition's state says what is due next (a smaller excess or batches aged since wait a
            // segment age from now; a full segment left past MaxSegmentsPerPass, at once). Without one, batches
            // waiting for the segment age are due when it has passed.
            return written > 0
                ? (written, -1, since + _options.SegmentMaxAgeMs)
                : (0, since + _options.SegmentMaxAgeMs, since + _options.SegmentMaxAgeMs);
        }
        finally
        {
            _writers.Add(writer);
        }
    }

    /// <summary>
    /// Fills the writer with the oldest batches from <paramref name="start"/> that are due to leave the hot
    /// tier (while it is over budget, or older than hotMs); answers whether the segment is full.
    /// </summary>
    private async Task<bool> FillAsync(SegmentWriter writer, TopicConfig topic, int partition, long start, long excess, long now, CancellationToken cancellationToken)
    {
        var position = start;
        var remaining = excess;
        while (true)
        {
            var read = await hotTier.ReadAsync(topic, partition, position, ReadStepBytes, cancellationToken);
            if (read.Status != ReadStatus.Ok || read.Batches.Count == 0)
            {
                return false;
            }
            foreach (var bytes in read.Batches)
            {
                var batch = RecordBatch.Parse(bytes);
                var due = remaining > 0 || (topic.HotMs >= 0 && batch.MaxTimestamp < now - topic.HotMs);
                if (!due)
                {
                    return false;
                }
                if (writer.BatchCount > 0 && writer.DataLength + bytes.Length > _options.SegmentBytes)
                {
                    return true;
                }
                writer.Add(batch);
                remaining -= bytes.Length;
                position = batch.NextOffset;
                if (writer.DataLength >= _options.SegmentBytes)
                {
                    return true;
                }
            }
        }
    }

    /// <summary>The max timestamp of the partition's oldest hot batch, remembered while the hot tier starts at the same offset.</summary>
    private async Task<long> OldestTimestampAsync(TopicConfig topic, PartitionState state, CancellationToken cancellationToken)
    {
        var key = (topic.Id, state.Partition);
        if (_oldest.TryGetValue(key, out var known) && known.Start == state.StartOffset)
        {
            return known.MaxTimestamp;
        }
        var read = await hotTier.ReadAsync(topic, state.Partition, state.StartOffset, 1, cancellationToken);
        if (read.Status != ReadStatus.Ok || read.Batches.Count == 0)
        {
            return long.MaxValue;
        }
        var oldest = RecordBatch.Parse(read.Batches[0]).MaxTimestamp;
        _oldest[key] = (state.StartOffset, oldest);
        return oldest;
    }

    private async Task<bool> LeaseAsync(TopicConfig topic, int partition, CancellationToken cancellationToken)
    {
        RedisKey lease = $"{keys.Prefix}:{{{topic.Name}:{partition}}}:{topic.Id}:tierlease";
        return await RedisLease.AcquireAsync(redis.GetDatabase(), lease, _holder, TimeSpan.FromMilliseconds(_options.LeaseMs), cancellationToken);
    }
}
