using System.Buffers.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Delivery;
using Broker.Delivery.Groups;
using Broker.Delivery.StorageAccess;
using Grpc.Core;

namespace Broker.Delivery.Consuming;

/// <summary>
/// One partition while one consumer holds its lease: fetches ahead from Storage (bounded), hands records
/// to the consumer in the subscription's mode, keeps every record until it is settled (acked,
/// dead-lettered or expired), and moves the partition's commit point over the settled prefix. Failed
/// records go through the redelivery loop; their attempts are recorded with the coordinator so they survive
/// the partition moving to another consumer. All state is guarded by the consumer's lock.
/// </summary>
internal sealed class PartitionConsumer : IDisposable
{
    /// <summary>The record header that gives one record its own time-to-live, in milliseconds from its timestamp.</summary>
    public const string TtlHeader = RecordHeaderNames.TtlMs;

    private readonly ConsumerMember _member;
    private readonly ConsumerServices _services;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationToken _stopping;
    private readonly Queue<PendingRecord> _fresh = new();
    private readonly Queue<PendingRecord> _redeliver = new();
    private readonly List<long> _toForget = [];
    private readonly AsyncSignal _room = new();
    private OffsetWindow _window = new(0);
    private long _nextFetch;
    private int _outstanding; // in flight or retrying: what ordered mode waits for
    private Task _fetching = Task.CompletedTask;

    public PartitionConsumer(ConsumerMember member, int partition, ConsumerServices services)
    {
        _member = member;
        _services = services;
        Partition = partition;
        _stopping = _stop.Token;
    }

    public int Partition { get; }

    public ConsumerMember Member => _member;

    /// <summary>Records of this partition delivered to the consumer and not yet acked or failed.</summary>
    public int InFlight { get; set; }

    /// <summary>Set when a rebalance gives the partition to another consumer: nothing more is handed out.</summary>
    public bool Revoking { get; private set; }

    /// <summary>When a revoking partition is let go even with records still in flight.</summary>
    public long RevokeDeadline { get; private set; }

    /// <summary>Until when (this instance's clock, ms) the lease is surely ours; past it nothing is handed out.</summary>
    public long LeaseValidUntil { get; set; }

    /// <summary>The lease's epoch: the fencing token of this partition's commits (Storage refuses those of older leases).</summary>
    public long Epoch { get; init; }

    /// <summary>The partition's end offset at the last read: for lag.</summary>
    public long EndOffset { get; private set; }

    /// <summary>The first offset not settled: what a commit stores.</summary>
    public long CommitOffset => _window.HeadOffset;

    /// <summary>The offset last committed to Storage.</summary>
    public long CommittedOffset { get; set; } = -1;

    private GroupTopic Key => _member.Key;

    /// <summary>
    /// Fences the partition's earlier holders in Storage with this lease's epoch and then finds the group's position
    /// (committing the start position of a new group), loads failed attempts, starts fetching. Fenced first, so that no
    /// commit of an older holder can land after the position is read.
    /// </summary>
    public async Task StartAsync(TopicDescription topic, StartPosition start, CancellationToken cancellationToken)
    {
        var (offsets, fenced) = await _services.Log.FenceAndFetchAsync(Key.Group, Key.Topic, topic.Partitions,
            Epoch > 0 ? [new LeaseGrant(Partition, Epoch)] : [], cancellationToken);
        if (fenced.Count > 0)
        {
            throw Fenced();
        }
        var committed = offsets[Partition];
        if (committed < 0)
        {
            var fresh = await _services.Log.DescribeAsync(Key.Topic, cancellationToken) ?? topic;
            committed = start == StartPosition.Latest ? fresh.EndOffsets[Partition] : fresh.StartOffsets[Partition];
            // Fixed now, so records produced before this group's first consumer arrives on another instance are not skipped.
            if ((await _services.Log.CommitAsync(Key.Group, Key.Topic, [(Partition, committed, Epoch)], cancellationToken)).Count > 0)
            {
                throw Fenced();
            }
        }
        var failures = await _services.Coordinator.LoadFailuresAsync(Key, Partition, committed, cancellationToken);
        lock (_member.Sync)
        {
            _window = new OffsetWindow(committed);
            _nextFetch = committed;
            CommittedOffset = committed;
            EndOffset = Math.Max(EndOffset, committed);
        }
        _fetching = FetchLoopAsync(failures, _stopping);
    }

    private InvalidOperationException Fenced() => new($"Storage knows a newer lease on partition {Partition} than this one (epoch {Epoch}).");

    /// <summary>Stops fetching and retrying; records in flight are abandoned (the next owner delivers them again).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _fetching;
        lock (_member.Sync)
        {
            for (var offset = _window.HeadOffset; offset < _window.EndOffset; offset++)
            {
                var record = _window.Find(offset)!;
                if (record.State == RecordState.InFlight)
                {
                    _member.Abandon(this, record);
                }
                record.Outcome?.TrySetCanceled();
            }
        }
        Dispose();
    }

    public void Dispose() => _stop.Dispose();

    public void BeginRevoke(long deadline)
    {
        Revoking = true;
        RevokeDeadline = deadline;
    }

    private async Task FetchLoopAsync(IReadOnlyDictionary<long, FailedAttempts> failures, CancellationToken cancellationToken)
    {
        try
        {
            await FetchAsync(failures, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped: however the read under way ended (cancelled, or the call torn down) does not matter.
        }
        catch (Exception ex)
        {
            DeliveryLog.FetchLoopFailed(_services.Logger, Key.ToString(), Partition, ex);
            _member.Fail(new RpcException(new Status(StatusCode.Internal, $"Reading partition {Partition} failed: {ex.Message}")));
        }
    }

    /// <summary>
    /// Follows the partition on one Tail stream from Storage: batches arrive as they are appended, with no
    /// call per read. While the partition holds its most records, the stream is not read, and HTTP/2 flow
    /// control holds Storage back. A broken stream is opened again where it stopped.
    /// </summary>
    private async Task FetchAsync(IReadOnlyDictionary<long, FailedAttempts> failures, CancellationToken cancellationToken)
    {
        var failedReads = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            long offset;
            lock (_member.Sync)
            {
                offset = _nextFetch;
            }
            try
            {
                await foreach (var read in _services.Log.TailAsync(Key.Topic, Partition, offset, _services.Options.FetchMaxBytes, cancellationToken))
                {
                    failedReads = 0;
                    await WaitForRoomAsync(cancellationToken);
                    if (!Add(read, offset, failures))
                    {
                        break; // the partition was reset meanwhile: follow it from there
                    }
                    offset = read.NextOffset;
                }
            }
            catch (OffsetOutOfRangeException ex)
            {
                DeliveryLog.SkippedByRetention(_services.Logger, Key.Group, Key.Topic, Partition, offset, ex.LogStartOffset);
                lock (_member.Sync)
                {
                    // Retention removed records this group never settled; they cannot be delivered any more.
                    if (_window.Count == 0 || _outstanding == 0)
                    {
                        _window.Reset(ex.LogStartOffset);
                        _fresh.Clear();
                        _nextFetch = ex.LogStartOffset;
                    }
                }
                _member.Session?.MarkDirty(this);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                _member.Fail(new RpcException(new Status(StatusCode.NotFound, $"Topic '{Key.Topic}' no longer exists.")));
                return;
            }
            catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
            {
                failedReads++;
                DeliveryLog.ReadFailed(_services.Logger, Key.Topic, Partition, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * (1 << Math.Min(failedReads, 6)), 5000)), _services.Time, cancellationToken);
            }
        }
    }

    private async Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_member.Sync)
            {
                if (_window.Count < _services.Options.MaxBufferedRecordsPerPartition)
                {
                    return;
                }
            }
            await _room.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    /// <summary>Adds a read's records; false when the partition moved elsewhere meanwhile (a reset) and the read no longer fits.</summary>
    private bool Add(ReadResult read, long offset, IReadOnlyDictionary<long, FailedAttempts> failures)
    {
        var records = Decode(read, offset, failures);
        lock (_member.Sync)
        {
            EndOffset = read.EndOffset;
            if (offset != _nextFetch)
            {
                return false;
            }
            foreach (var record in records)
            {
                _window.Append(record);
                if (record.State == RecordState.Retrying)
                {
                    _outstanding++;
                    StartRetry(record);
                }
                else
                {
                    _fresh.Enqueue(record);
                }
            }
            _nextFetch = read.NextOffset;
        }
        if (records.Count > 0)
        {
            _member.Wake();
        }
        return true;
    }

    private List<PendingRecord> Decode(ReadResult read, long from, IReadOnlyDictionary<long, FailedAttempts> failures)
    {
        var ttl = _member.Session?.Topic.MessageTtlMs ?? -1;
        var maxAttempts = _member.Session?.Topic.MaxDeliveryAttempts ?? int.MaxValue;
        var records = new List<PendingRecord>();
        foreach (var bytes in read.Batches)
        {
            var batch = RecordBatch.ParseChecked(bytes.Memory); // Storage checked the CRC when it read it
            foreach (var record in batch.GetRecords())
            {
                if (record.Offset < from)
                {
                    continue;
                }
                var pending = new PendingRecord
                {
                    Partition = Partition,
                    Offset = record.Offset,
                    Key = record.Key,
                    Value = record.Value,
                    Headers = record.Headers,
                    Timestamp = record.Timestamp,
                    ExpiresAt = ExpiryOf(record, ttl),
                };
                if (failures.Count > 0 && failures.TryGetValue(record.Offset, out var failed))
                {
                    // Failed under an earlier owner: its attempts carry over; used up means dead-letter now.
                    pending.Attempts = failed.Attempts;
                    pending.LastError = failed.LastError;
                    pending.FailureRecorded = true;
                    if (failed.Attempts >= maxAttempts)
                    {
                        pending.State = RecordState.Retrying;
                    }
                }
                records.Add(pending);
            }
        }
        return records;
    }

    private static long ExpiryOf(Record record, long topicTtlMs)
    {
        var expires = topicTtlMs > 0 ? record.Timestamp + topicTtlMs : long.MaxValue;
        foreach (var header in record.Headers)
        {
            if (header.Name == TtlHeader && Utf8Parser.TryParse(header.Value.Span, out long ttl, out var consumed)
                && consumed == header.Value.Length && ttl >= 0)
            {
                expires = Math.Min(expires, record.Timestamp + ttl);
            }
        }
        return expires;
    }

    /// <summary>The next record to hand out, if the mode allows one now; skips (and settles) expired ones.</summary>
    public bool TryTake(long nowMs, bool ordered, out PendingRecord record, out bool redelivery)
    {
        while (true)
        {
            if (_redeliver.TryDequeue(out record!))
            {
                if (record.State != RecordState.Retrying)
                {
                    continue; // acked late while it waited
                }
                redelivery = true;
            }
            else if ((ordered && _outstanding > 0) || !_fresh.TryDequeue(out record!))
            {
                redelivery = false;
                return false;
            }
            else
            {
                redelivery = false;
            }
            if (record.ExpiresAt <= nowMs)
            {
                _services.Metrics.Expired(_member.Tags);
                record.Outcome?.TrySetResult(AttemptOutcome.Expired);
                Settle(record);
                continue;
            }
            if (!redelivery)
            {
                _outstanding++;
            }
            return true;
        }
    }

    /// <summary>Whether anything could be handed out now (used to decide whether to wait).</summary>
    public bool HasDeliverable(bool ordered) => _redeliver.Count > 0 || (_fresh.Count > 0 && !(ordered && _outstanding > 0));

    public PendingRecord? Find(long offset) => _window.Find(offset);

    /// <summary>Done with the record: acked, dead-lettered or expired. Moves the commit point over the settled prefix.</summary>
    public void Settle(PendingRecord record)
    {
        if (record.State is RecordState.InFlight or RecordState.Retrying)
        {
            _outstanding--;
        }
        record.State = RecordState.Settled;
        if (record.FailureRecorded)
        {
            _toForget.Add(record.Offset);
        }
        if (_window.DropSettledPrefix() > 0)
        {
            _member.Session?.MarkDirty(this);
            _room.Set();
        }
    }

    /// <summary>A delivery failed (nack or ack timeout): record it, then let the retry loop decide what is next.</summary>
    public void Failed(PendingRecord record, string error)
    {
        record.LastError = error;
        record.State = RecordState.Retrying;
        record.FailureRecorded = true;
        _ = RecordFailureAsync(record.Offset, new FailedAttempts(record.Attempts, error));
        var maxAttempts = _member.Session?.Topic.MaxDeliveryAttempts ?? int.MaxValue;
        if (record.InRetryLoop)
        {
            record.Outcome?.TrySetResult(record.Attempts >= maxAttempts ? AttemptOutcome.Exhausted : AttemptOutcome.Failed);
        }
        else
        {
            StartRetry(record);
        }
    }

    private async Task RecordFailureAsync(long offset, FailedAttempts failure)
    {
        try
        {
            await _services.Coordinator.RecordFailureAsync(Key, Partition, offset, failure, _stopping);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Only costs attempts counted again if the partition moves before the record is settled.
            DeliveryLog.FailureNotRecorded(_services.Logger, Key.ToString(), Partition, offset, ex.Message);
        }
    }

    private void StartRetry(PendingRecord record)
    {
        record.InRetryLoop = true;
        var exhausted = record.Attempts >= (_member.Session?.Topic.MaxDeliveryAttempts ?? int.MaxValue);
        _ = RetryAsync(record, exhausted);
    }

    private async Task RetryAsync(PendingRecord record, bool exhausted)
    {
        var token = _stopping;
        try
        {
            var outcome = await _services.Redelivery.RunAsync((Consumer: this, Record: record), exhausted,
                static (state, token) => state.Consumer.RedeliverAsync(state.Record, token), token);
            if (outcome == AttemptOutcome.Exhausted)
            {
                await DeadLetterAsync(record, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The partition moved or the consumer left: the next owner takes the record from the committed offset.
        }
        catch (Exception ex)
        {
            DeliveryLog.RetryLoopFailed(_services.Logger, Key.ToString(), Partition, record.Offset, ex);
        }
    }

    /// <summary>Queues the record for one more delivery and waits for how it went.</summary>
    private async ValueTask<AttemptOutcome> RedeliverAsync(PendingRecord record, CancellationToken cancellationToken)
    {
        TaskCompletionSource<AttemptOutcome> outcome;
        lock (_member.Sync)
        {
            if (record.State == RecordState.Settled)
            {
                return AttemptOutcome.Acked;
            }
            outcome = new TaskCompletionSource<AttemptOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            record.Outcome = outcome;
            _redeliver.Enqueue(record);
        }
        _member.Wake();
        return await outcome.Task.WaitAsync(cancellationToken);
    }

    private async Task DeadLetterAsync(PendingRecord record, CancellationToken cancellationToken)
    {
        var session = _member.Session ?? throw new InvalidOperationException("The consumer has left.");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var target = _member.Spec.DeadLetterTopic ?? session.Topic.DeadLetterTopic;
                var (partition, offset) = await _services.DeadLetters.WriteAsync(Key, session.Topic, record, cancellationToken, deadLetterTopic: target);
                DeliveryLog.DeadLettered(_services.Logger, Key.Topic, Partition, record.Offset, Key.Group, record.Attempts, target, partition, offset);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The record stays unsettled (the partition's commit waits for it) until the dead-letter write succeeds.
                DeliveryLog.DeadLetterFailed(_services.Logger, Key.Topic, Partition, record.Offset, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200 * (1 << Math.Min(attempt, 8)), 30_000)), _services.Time, cancellationToken);
            }
        }
        lock (_member.Sync)
        {
            if (record.State != RecordState.Settled)
            {
                _services.Metrics.DeadLettered(_member.Tags);
                Settle(record);
            }
        }
    }

    /// <summary>The commit reached Storage: forget failures of records before it.</summary>
    public List<long> TakeForgettable(long committed)
    {
        var forget = new List<long>();
        _toForget.RemoveAll(offset =>
        {
            if (offset < committed)
            {
                forget.Add(offset);
                return true;
            }
            return false;
        });
        return forget;
    }
}
