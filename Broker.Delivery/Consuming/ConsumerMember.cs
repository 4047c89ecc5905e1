using System.Diagnostics;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Delivery;
using Broker.Contracts.Naming;
using Broker.Delivery.Groups;
using Broker.Delivery.Telemetry;

namespace Broker.Delivery.Consuming;

/// <summary>What a consumer asked for when it joined; <c>DeadLetterTopic</c> replaces the topic's own (a Dapr subscription's).</summary>
internal sealed record SubscriptionSpec(
    string Group, string Topic, int Window, DeliveryMode Mode, StartPosition Start, TimeSpan AckTimeout, string? Name, string? DeadLetterTopic = null);

/// <summary>A record handed to a consumer: what the transports send.</summary>
internal readonly record struct Delivered(PendingRecord Record, string DeliveryId, int Attempt, IReadOnlyList<RecordHeader> Headers);

/// <summary>How an ack or nack went.</summary>
internal readonly record struct AckResult(bool Ok, bool Malformed, string? Error)
{
    public static AckResult Done { get; } = new(true, false, null);
    public static AckResult Unknown(string error) => new(false, false, error);
    public static AckResult Invalid(string error) => new(false, true, error);
}

/// <summary>
/// One consumer of a group (a gRPC stream, or an HTTP poller's session) on this instance: the partitions it
/// holds, its window of records in flight, their ack deadlines, and the wake-up its transport waits on.
/// Acks, nacks, timeouts and hand-outs all run under <see cref="Sync"/>, which also guards its partitions.
/// </summary>
internal sealed class ConsumerMember : IDisposable
{
    private readonly ConsumerServices _services;
    private readonly Dictionary<int, PartitionConsumer> _partitions = [];
    // The records in flight in delivery order, which is ack-deadline order (one timeout per consumer): an
    // intrusive list, so an answered record leaves it at once and holds no memory until its deadline.
    private PendingRecord? _oldestInFlight;
    private PendingRecord? _newestInFlight;
    private readonly AsyncSignal _wake = new();
    private readonly CancellationTokenSource _gone = new();
    private readonly CancellationToken _goneToken;
    private int _nextPartition;
    private int _inFlight;
    private int _window;
    private bool _leaving;

    public ConsumerMember(string id, SubscriptionSpec spec, ConsumerServices services)
    {
        _services = services;
        Id = id;
        Name = string.IsNullOrWhiteSpace(spec.Name) ? id : spec.Name;
        Key = new GroupTopic(spec.Group, spec.Topic);
        Spec = spec;
        _window = spec.Window;
        Tags = new DeliveryMetrics.Tags(spec.Topic, spec.Group);
        LastSeenMs = services.NowMs;
        _goneToken = _gone.Token;
        _ = SweepAsync(_goneToken);
    }

    public string Id { get; }
    public string Name { get; }
    public GroupTopic Key { get; }
    public SubscriptionSpec Spec { get; }
    public DeliveryMetrics.Tags Tags { get; }
    public Lock Sync { get; } = new();

    /// <summary>The group session this consumer belongs to on this instance; null once it left.</summary>
    public GroupSession? Session { get; set; }

    /// <summary>Its leave, once it started leaving (set under the session's lock).</summary>
    public Task? Leaving { get; set; }

    /// <summary>Why the consumer was stopped by the service (its topic was deleted, say); null while it runs.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Cancelled when the consumer leaves or fails.</summary>
    public CancellationToken Gone => _goneToken;

    /// <summary>The last poll or ack (Unix ms): an HTTP consumer's session runs out after a quiet spell.</summary>
    public long LastSeenMs { get; set; }

    /// <summary>Called with the partitions this consumer holds whenever they change.</summary>
    public event Action<IReadOnlyList<int>>? AssignmentChanged;

    public int Window
    {
        get => Volatile.Read(ref _window);
        set
        {
            Volatile.Write(ref _window, value);
            Wake();
        }
    }

    public void Wake() => _wake.Set();

    /// <summary>Marks the consumer as active now (HTTP consumers time out when quiet).</summary>
    public void Touch() => LastSeenMs = _services.NowMs;

    /// <summary>Waits until something may be deliverable (or a control message is due), up to <paramref name="timeout"/>.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wake.WaitAsync(timeout, cancellationToken);

    public IReadOnlyList<int> Partitions
    {
        get
        {
            lock (Sync)
            {
                return [.. _partitions.Keys.Order()];
            }
        }
    }

    internal IReadOnlyList<PartitionConsumer> PartitionConsumers
    {
        get
        {
            lock (Sync)
            {
                return [.. _partitions.Values];
            }
        }
    }

    /// <summary>Adds a started partition; false when the consumer is leaving (the caller stops the partition again).</summary>
    internal bool TryAdd(PartitionConsumer partition)
    {
        lock (Sync)
        {
            if (_leaving)
            {
                return false;
            }
            _partitions[partition.Partition] = partition;
        }
        Wake();
        return true;
    }

    /// <summary>Takes no more partitions from now on; answers the ones it holds, to be stopped.</summary>
    internal IReadOnlyList<PartitionConsumer> BeginLeave()
    {
        lock (Sync)
        {
            _leaving = true;
            return [.. _partitions.Values];
        }
    }

    internal bool Remove(PartitionConsumer partition)
    {
        lock (Sync)
        {
            return _partitions.Remove(partition.Partition);
        }
    }

    internal void RaiseAssignmentChanged()
    {
        IReadOnlyList<int> receiving;
        lock (Sync)
        {
            receiving = [.. _partitions.Values.Where(p => !p.Revoking).Select(p => p.Partition).Order()];
        }
        AssignmentChanged?.Invoke(receiving);
        Wake();
    }

    /// <summary>
    /// Hands out up to <paramref name="max"/> records within the window, taking from the partitions in turn,
    /// and stamps each as in flight with its ack deadline.
    /// </summary>
    public int Take(int max, long maxBytes, List<Delivered> into)
    {
        long bytes = 0;
        var now = _services.NowMs;
        var ordered = Spec.Mode == DeliveryMode.Ordered;
        var taken = 0;
        lock (Sync)
        {
            if (_partitions.Count == 0)
            {
                return 0;
            }
            var partitions = _partitions.Values.ToArray();
            var deadline = now + (long)Spec.AckTimeout.TotalMilliseconds;
            var idle = 0;
            // One record per partition per turn, so one busy partition cannot starve the others.
            while (taken < max && bytes < maxBytes && _inFlight < Window && idle < partitions.Length)
            {
                var partition = partitions[_nextPartition++ % partitions.Length];
                if (partition.Revoking || partition.LeaseValidUntil <= now || !partition.TryTake(now, ordered, out var record, out _))
                {
                    idle++;
                    continue;
                }
                idle = 0;
                record.State = RecordState.InFlight;
                record.Attempts++;
                partition.InFlight++;
                _inFlight++;
                record.AckDeadline = deadline;
                Link(record);
                into.Add(new Delivered(record, new DeliveryId(Id, record.Partition, record.Offset, record.Attempts).ToString(), record.Attempts, StartSpan(record)));
                _services.Metrics.Delivered(Tags, record.Attempts, record.Timestamp, now);
                bytes += record.Value.Length + (record.Key?.Length ?? 0);
                taken++;
            }
        }
        return taken;
    }

    /// <summary>Whether a Take now would hand something out.</summary>
    public bool HasDeliverable
    {
        get
        {
            var now = _services.NowMs;
            lock (Sync)
            {
                if (_inFlight >= Window)
                {
                    return false;
                }
                foreach (var partition in _partitions.Values)
                {
                    if (!partition.Revoking && partition.LeaseValidUntil > now && partition.HasDeliverable(Spec.Mode == DeliveryMode.Ordered))
                    {
                        return true;
                    }
                }
                return false;
            }
        }
    }

    public AckResult Ack(string deliveryId)
    {
        Touch();
        lock (Sync)
        {
            var (result, partition, record) = Find(deliveryId);
            if (!result.Ok)
            {
                return result;
            }
            if (record!.State == RecordState.InFlight)
            {
                EndInFlight(partition!, record);
            }
            // An ack of an earlier attempt of a record now waiting for redelivery counts too: it was processed.
            _services.Metrics.Acked(Tags);
            StopSpan(record, null);
            record.Outcome?.TrySetResult(AttemptOutcome.Acked);
            partition!.Settle(record);
            if (partition.Revoking && partition.InFlight == 0)
            {
                Session?.Wake();
            }
        }
        Wake();
        return AckResult.Done;
    }

    public AckResult Nack(string deliveryId, string? error)
    {
        Touch();
        lock (Sync)
        {
            var (result, partition, record) = Find(deliveryId);
            if (!result.Ok)
            {
                return result;
            }
            if (record!.State != RecordState.InFlight || !DeliveryId.TryParse(deliveryId, out var id) || id.Attempt != record.Attempts)
            {
                return AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' is not awaiting an answer: a later attempt of the record is due or under way.");
            }
            Fail(partition!, record, string.IsNullOrEmpty(error) ? "nacked" : error);
        }
        Wake();
        return AckResult.Done;
    }

    /// <summary>
    /// Gives an in-flight delivery a new ack deadline, now plus the ack timeout: its consumer is still working on it.
    /// The record moves to the newest end of the in-flight list, whose order is deadline order because every record's
    /// deadline is its hand-out (or extension) time plus the same timeout.
    /// </summary>
    public AckResult Extend(string deliveryId)
    {
        Touch();
        lock (Sync)
        {
            var (result, _, record) = Find(deliveryId);
            if (!result.Ok)
            {
                return result;
            }
            if (record!.State != RecordState.InFlight || !DeliveryId.TryParse(deliveryId, out var id) || id.Attempt != record.Attempts)
            {
                return AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' is not awaiting an answer: a later attempt of the record is due or under way.");
            }
            Unlink(record);
            record.AckDeadline = _services.NowMs + (long)Spec.AckTimeout.TotalMilliseconds;
            Link(record);
        }
        return AckResult.Done;
    }

    /// <summary>Whether an ack (or nack) of <paramref name="deliveryId"/> would be taken now, without taking it.</summary>
    public AckResult Check(string deliveryId, bool nack)
    {
        lock (Sync)
        {
            var (result, _, record) = Find(deliveryId);
            if (result.Ok && nack && (record!.State != RecordState.InFlight || !DeliveryId.TryParse(deliveryId, out var id) || id.Attempt != record.Attempts))
            {
                return AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' is not awaiting an answer: a later attempt of the record is due or under way.");
            }
            return result;
        }
    }

    private (AckResult Result, PartitionConsumer? Partition, PendingRecord? Record) Find(string deliveryId)
    {
        if (!DeliveryId.TryParse(deliveryId, out var id))
        {
            return (AckResult.Invalid($"'{Names.Quote(deliveryId)}' is not a delivery id (member.partition.offset.attempt)."), null, null);
        }
        if (id.MemberId != Id)
        {
            return (AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' was not made to this consumer."), null, null);
        }
        if (!_partitions.TryGetValue(id.Partition, out var partition))
        {
            return (AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' is unknown: partition {id.Partition} is not this consumer's (any more); the record will be delivered again."), null, null);
        }
        var record = partition.Find(id.Offset);
        if (record is null || record.State is RecordState.Settled or RecordState.Fresh || id.Attempt > record.Attempts)
        {
            return (AckResult.Unknown($"Delivery '{Names.Quote(deliveryId)}' is unknown: never made, or already acked."), null, null);
        }
        return (AckResult.Done, partition, record);
    }

    private void EndInFlight(PartitionConsumer partition, PendingRecord record)
    {
        partition.InFlight--;
        _inFlight--;
        Unlink(record);
    }

    private void Link(PendingRecord record)
    {
        record.OlderInFlight = _newestInFlight;
        record.NewerInFlight = null;
        if (_newestInFlight is null)
        {
            _oldestInFlight = record;
        }
        else
        {
            _newestInFlight.NewerInFlight = record;
        }
        _newestInFlight = record;
    }

    private void Unlink(PendingRecord record)
    {
        if (record.OlderInFlight is { } older)
        {
            older.NewerInFlight = record.NewerInFlight;
        }
        else if (_oldestInFlight == record)
        {
            _oldestInFlight = record.NewerInFlight;
        }
        if (record.NewerInFlight is { } newer)
        {
            newer.OlderInFlight = record.OlderInFlight;
        }
        else if (_newestInFlight == record)
        {
            _newestInFlight = record.OlderInFlight;
        }
        record.OlderInFlight = null;
        record.NewerInFlight = null;
    }

    private void Fail(PartitionConsumer partition, PendingRecord record, string error)
    {
        EndInFlight(partition, record);
        _services.Metrics.Nacked(Tags);
        StopSpan(record, error);
        partition.Failed(record, error);
        if (partition.Revoking && partition.InFlight == 0)
        {
            Session?.Wake();
        }
    }

    /// <summary>The partition is stopping with the record in flight: it will be delivered again by the next owner.</summary>
    internal void Abandon(PartitionConsumer partition, PendingRecord record)
    {
        EndInFlight(partition, record);
        StopSpan(record, "partition released before the ack");
    }

    /// <summary>Fails every delivery whose ack deadline passed, a few times per ack timeout.</summary>
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(Spec.AckTimeout.TotalMilliseconds / 4, 10, 250));
        using var timer = new PeriodicTimer(period, _services.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var failed = false;
                var now = _services.NowMs;
                lock (Sync)
                {
                    // The oldest deliveries are due first.
                    while (_oldestInFlight is { } record && record.AckDeadline <= now)
                    {
                        if (_partitions.TryGetValue(record.Partition, out var partition) && partition.Find(record.Offset) == record)
                        {
                            Fail(partition, record, $"not acked within {Spec.AckTimeout.TotalMilliseconds} ms");
                            failed = true;
                        }
                        else
                        {
                            Unlink(record); // its partition is gone; nothing to fail
                        }
                    }
                }
                if (failed)
                {
                    Wake();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the consumer from the service's side; its transport ends with <paramref name="failure"/>.</summary>
    public void Fail(Exception failure)
    {
        Failure ??= failure;
        Wake();
        _ = Session?.LeaveAsync(this);
    }

    /// <summary>Called once the consumer left its group.</summary>
    internal void Left()
    {
        _gone.Cancel();
        Wake();
    }

    public void Dispose() => _gone.Dispose();

    private IReadOnlyList<RecordHeader> StartSpan(PendingRecord record)
    {
        if (!DeliveryTelemetry.Source.HasListeners())
        {
            return record.Headers;
        }
        var parent = default(ActivityContext);
        var traceIndex = -1;
        for (var i = 0; i < record.Headers.Count; i++)
        {
            if (record.Headers[i].Name == RecordHeaderNames.TraceParent)
            {
                traceIndex = i;
                ActivityContext.TryParse(Encoding.ASCII.GetString(record.Headers[i].Value.Span), null, out parent);
                break;
            }
        }
        var span = DeliveryTelemetry.Source.StartActivity($"deliver {Key.Topic}", ActivityKind.Consumer, parent);
        if (span is null)
        {
            return record.Headers;
        }
        span.SetTag("messaging.system", "broker");
        span.SetTag("messaging.operation.type", "deliver");
        span.SetTag("messaging.destination.name", Key.Topic);
        span.SetTag("messaging.consumer.group.name", Key.Group);
        span.SetTag("messaging.destination.partition.id", record.Partition);
        span.SetTag("messaging.kafka.offset", record.Offset);
        span.SetTag("messaging.message.delivery_attempt", record.Attempts);
        record.Span = span;
        // The consumer continues the trace from this delivery: its traceparent replaces the producer's.
        var headers = new RecordHeader[traceIndex >= 0 ? record.Headers.Count : record.Headers.Count + 1];
        for (var i = 0; i < record.Headers.Count; i++)
        {
            headers[i] = record.Headers[i];
        }
        headers[traceIndex >= 0 ? traceIndex : headers.Length - 1] = new RecordHeader(RecordHeaderNames.TraceParent, Encoding.ASCII.GetBytes(span.Id!));
        return headers;
    }

    private static void StopSpan(PendingRecord record, string? error)
    {
        if (record.Span is not { } span)
        {
            return;
        }
        if (error is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, error);
        }
        span.Stop();
        record.Span = null;
    }
}
