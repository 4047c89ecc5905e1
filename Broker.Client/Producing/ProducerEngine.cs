using System.Threading.Channels;
using RecordBatch = Broker.Contracts.Batches.RecordBatch;
using Broker.Client.Connection;
using Broker.Client.Telemetry;
using Broker.Contracts.Ingest;
using Broker.Contracts.Partitioning;
using Google.Protobuf;
using Grpc.Core;
using Polly;
using Polly.Retry;

namespace Broker.Client.Producing;

/// <summary>
/// The producer's machinery, on bytes: records gather into one open batch per partition; a batch is closed when it is
/// full or has lingered, and the sender writes it as one request on Ingest's produce stream (at most
/// <see cref="ProducerOptions.MaxInFlightPerPartition"/> per partition, <see cref="ProducerOptions.MaxInFlight"/> in all).
/// Idempotence: each partition has a producer id, and each batch the base sequence that follows its predecessor's, so
/// Storage writes a batch once however often it is sent and refuses one that would jump the queue. When a batch fails
/// in a way a retry can mend (the stream broke, UNAVAILABLE, RESOURCE_EXHAUSTED, or out of order behind a failed one),
/// its partition is recovered: its unconfirmed batches are resent one at a time, in order, through a Polly retry
/// pipeline, then pipelining resumes. One lock guards the partitions; one task writes the stream, one reads it.
/// </summary>
internal sealed class ProducerEngine : IAsyncDisposable
{
    private static readonly TimeSpan s_overdueCheck = TimeSpan.FromSeconds(1);
    private readonly ProducerOptions _options;
    private readonly ProduceService.ProduceServiceClient _ingest;
    private readonly TopicMetadata _metadata;
    private readonly TimeProvider _time;
    private readonly Lock _sync = new();
    private readonly Dictionary<(string Topic, int Partition), PartitionState> _partitions = [];
    // Each request with the producer id and sequence it carried: a renumbering may change the batch's since.
    private readonly Dictionary<ulong, (Batch Batch, Sent Sent)> _inFlight = [];
    private readonly Dictionary<string, List<Waiting>> _waitingForMetadata = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly SemaphoreSlim _bufferFreed = new(0, int.MaxValue);
    private int _bufferWaiters; // released only while someone waits, so its count never piles up
    private readonly SemaphoreSlim _writeLock = new(1, 1); // a gRPC stream takes one write at a time: the sender's and recoveries' 
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResiliencePipeline _retry;
    private readonly Task _sender;
    // Records learn their outcome here, in the order batches completed, outside the lock (callbacks are users' code).
    private readonly Channel<Batch> _reports = Channel.CreateUnbounded<Batch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _reporter;
    // Each flush waits until every record enqueued before it has its outcome: a count to reach, not an idle producer.
    private readonly List<(long Target, TaskCompletionSource Done)> _flushes = [];
    private long _enqueued;
    private long _settled;
    private AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse>? _call;
    private Task? _reader;
    private ulong _nextRequestId;
    private long _bufferedBytes;
    private long _pendingRecords;
    private int _inFlightCount;
    private bool _disposed;
    private bool _closed; // set under the lock once disposal fails what is left: nothing may join a batch after it

    public ProducerEngine(BrokerConnection connection, ProducerOptions options, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _ingest = new ProduceService.ProduceServiceClient(connection.Channel(BrokerClientOptions.Required(connection.Options.IngestGrpc, "IngestGrpc")));
        _metadata = new TopicMetadata(connection);
        _retry = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RetriableProduceException>(),
                MaxRetryAttempts = int.MaxValue, // bounded by each batch's delivery deadline, checked before every send
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBackoff,
                MaxDelay = options.MaxRetryBackoff,
                // RESOURCE_EXHAUSTED says when to come back: that, rather than the backoff.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is RetriableProduceException { RetryAfter: { } after } ? after : (TimeSpan?)null),
            })
            .Build();
        _sender = Task.Run(SendLoopAsync);
        _reporter = Task.Run(ReportLoopAsync);
    }

    /// <summary>Queues one record; <paramref name="completion"/> learns where it went. Waits for buffer room when <paramref name="wait"/>.</summary>
    public async ValueTask EnqueueAsync(string topic, int? partition, byte[]? key, byte[] value, MessageHeaders? headers, DateTimeOffset? timestamp,
        IRecordCompletion completion, bool wait, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var record = new ProduceRecord { Value = UnsafeByteOperations.UnsafeWrap(value) };
        if (key is not null)
        {
            record.Key = UnsafeByteOperations.UnsafeWrap(key);
        }
        if (timestamp is { } time)
        {
            record.TimestampMs = time.ToUnixTimeMilliseconds();
        }
        if (headers is not null)
        {
            foreach (var (name, bytes) in headers)
            {
                record.Headers.Add(new RecordHeader { Name = name, Value = UnsafeByteOperations.UnsafeWrap(bytes) });
            }
        }
        var size = value.Length + (key?.Length ?? 0) + 16;
        while (!TryReserve(size))
        {
            if (!wait)
            {
                throw new ProduceException(ProduceError.QueueFull, $"The producer's buffer of {_options.BufferBytes} bytes is full: wait for deliveries (FlushAsync) or raise ProducerOptions.BufferBytes.");
            }
            ObjectDisposedException.ThrowIf(_closed, this);
            Interlocked.Increment(ref _bufferWaiters);
            try
            {
                await _bufferFreed.WaitAsync(TimeSpan.FromMilliseconds(50), cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _bufferWaiters);
            }
        }
        lock (_sync)
        {
            if (_closed)
            {
                Release(size);
                throw new ObjectDisposedException(nameof(BrokerProducer<byte, byte>), "The producer was disposed.");
            }
            _pendingRecords++; // from here until its outcome is told
            _enqueued++;
            // Until a topic's partition count is known its records queue here, so that they keep the order they were
            // produced in: a later record must not overtake one that waited for the count.
            if (_metadata.TryGetPartitions(topic, out var partitions) && !_waitingForMetadata.ContainsKey(topic))
            {
                AppendLocked(topic, partitions, partition, key, record, size, completion);
                return;
            }
            var waiting = new Waiting(partition, key, record, size, completion);
            if (_waitingForMetadata.TryGetValue(topic, out var queue))
            {
                queue.Add(waiting);
                return;
            }
            _waitingForMetadata[topic] = [waiting];
        }
        _ = Task.Run(() => AppendWhenKnownAsync(topic), CancellationToken.None);
    }

    /// <summary>Fetches a topic's partition count, then appends the records that waited for it, in order (or fails them).</summary>
    private async Task AppendWhenKnownAsync(string topic)
    {
        int partitions;
        try
        {
            partitions = await _metadata.PartitionsAsync(topic, _stopping.Token);
        }
        catch (Exception ex)
        {
            List<Waiting> failed;
            lock (_sync)
            {
                _waitingForMetadata.Remove(topic, out failed!);
            }
            var error = ex as ProduceException ?? new ProduceException(ProduceError.TopicNotFound, $"The partitions of topic {topic} could not be learnt from Storage: {ex.Message}", ex);
            foreach (var waiting in failed)
            {
                FailUnsent(waiting, error);
            }
            return;
        }
        lock (_sync)
        {
            _waitingForMetadata.Remove(topic, out var queue);
            foreach (var waiting in queue!)
            {
                if (_closed)
                {
                    FailUnsent(waiting, new ProduceException(ProduceError.Disposed, "The producer was disposed before the record was sent."));
                }
                else
                {
                    AppendLocked(topic, partitions, waiting.Partition, waiting.Key, waiting.Record, waiting.Size, waiting.Completion);
                }
            }
        }
    }

    /// <summary>Under the lock: one record into its partition's open batch (the partition its key or the sticky one picks).</summary>
    private void AppendLocked(string topic, int partitions, int? partition, byte[]? key, ProduceRecord record, int size, IRecordCompletion completion)
    {
        var target = partition ?? (key is null ? -1 : Partitioner(key, partitions));
        if (target >= partitions)
        {
            FailUnsent(new Waiting(partition, key, record, size, completion),
                new ProduceException(ProduceError.InvalidArgument, $"Topic {topic} has {partitions} partitions; there is no partition {target}."));
            return;
        }
        Append(topic, target, partitions, record, size, completion);
    }

    /// <summary>A record that never reached a batch: its room is freed and it learns why, on the thread pool (never under the lock).</summary>
    private void FailUnsent(Waiting waiting, ProduceException error) =>
        ThreadPool.UnsafeQueueUserWorkItem(state =>
        {
            state.Waiting.Completion.Complete(new DeliveryReport(default, state.Error));
            state.Engine.Completed(1, state.Waiting.Size);
        }, (Waiting: waiting, Error: error, Engine: this), preferLocal: false);

    private sealed record Waiting(int? Partition, byte[]? Key, ProduceRecord Record, int Size, IRecordCompletion Completion);

    /// <summary>Sends every open batch now and waits until every record produced so far is confirmed or failed.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        (long Target, TaskCompletionSource Done) flush;
        lock (_sync)
        {
            if (_settled >= _enqueued)
            {
                return;
            }
            flush = (_enqueued, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            _flushes.Add(flush);
        }
        _wake.Release();
        try
        {
            await flush.Done.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            lock (_sync)
            {
                _flushes.Remove(flush);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        // Graceful: what was produced is sent and confirmed (within the delivery timeout) before the stream closes.
        try
        {
            using var deadline = new CancellationTokenSource(_options.DeliveryTimeout);
            await FlushAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _disposed = true;
        // The stream ends gracefully first (taken from the reader's hands, so that a break cannot dispose it meanwhile),
        // then the loops stop.
        AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse>? call;
        lock (_sync)
        {
            call = _call;
            _call = null;
        }
        if (call is not null)
        {
            await _writeLock.WaitAsync();
            try
            {
                await call.RequestStream.CompleteAsync();
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
            {
                // Already broken or closed: nothing is left on it to lose.
            }
            finally
            {
                _writeLock.Release();
            }
        }
        await _stopping.CancelAsync();
        await Stopping.Quietly(_sender);
        lock (_sync)
        {
            _closed = true;
            var disposed = new ProduceException(ProduceError.Disposed, "The producer was disposed before the record was confirmed.");
            foreach (var state in _partitions.Values)
            {
                state.FailAll(disposed, this);
            }
            foreach (var queue in _waitingForMetadata.Values)
            {
                foreach (var waiting in queue)
                {
                    FailUnsent(waiting, disposed);
                }
            }
            _waitingForMetadata.Clear();
        }
        AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse>? late;
        lock (_sync)
        {
            late = _call; // one the sender opened after the flush timed out, if any
            _call = null;
        }
        await Stopping.Quietly(_reader);
        call?.Dispose();
        late?.Dispose();
        _reports.Writer.TryComplete();
        await Stopping.Quietly(_reporter);
        _stopping.Dispose();
    }

    private static int Partitioner(byte[] key, int partitions) => KafkaPartitioner.PartitionForKey(key, partitions);

    private bool TryReserve(int size)
    {
        if (Interlocked.Add(ref _bufferedBytes, size) <= _options.BufferBytes || Volatile.Read(ref _bufferedBytes) == size)
        {
            return true;
        }
        Interlocked.Add(ref _bufferedBytes, -size);
        return false;
    }

    private void Release(long size)
    {
        Interlocked.Add(ref _bufferedBytes, -size);
        if (Volatile.Read(ref _bufferWaiters) > 0 && _bufferFreed.CurrentCount == 0)
        {
            _bufferFreed.Release();
        }
    }

    /// <summary>Under the lock: adds a record to its partition's open batch; a full batch is closed and the sender woken.</summary>
    private void Append(string topic, int partition, int partitions, ProduceRecord record, int size, IRecordCompletion completion)
    {
        // A keyless record sticks to one partition until that partition's batch is sent (Kafka's sticky partitioner).
        if (partition < 0)
        {
            partition = _metadata.StickyPartition(topic, partitions);
        }
        if (!_partitions.TryGetValue((topic, partition), out var state))
        {
            state = new PartitionState(topic, partition, _options.Idempotence);
            _partitions[(topic, partition)] = state;
        }
        var open = state.Open ??= new Batch(state, _time.GetTimestamp());
        open.Add(record, size, completion);
        if (open.Bytes >= _options.BatchSize || open.Records.Count >= _options.MaxBatchRecords)
        {
            state.Close();
            _metadata.MoveSticky(topic, partition, partitions);
            _wake.Release();
        }
        else if (open.Records.Count == 1)
        {
            _wake.Release(); // a new batch: the sender starts its linger clock
        }
    }

    /// <summary>The sender: closes lingered batches, writes what may go, sleeps until the next batch's linger ends or it is woken.</summary>
    private async Task SendLoopAsync()
    {
        var stopping = _stopping.Token;
        var sends = new List<Batch>();
        var lastCheck = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            TimeSpan? sleep;
            var overdue = false;
            lock (_sync)
            {
                sleep = CollectSends(sends);
                if (_time.GetElapsedTime(lastCheck) >= s_overdueCheck)
                {
                    lastCheck = _time.GetTimestamp();
                    overdue = _inFlight.Values.Any(s => _time.GetElapsedTime(s.Batch.Created) > _options.DeliveryTimeout);
                }
            }
            if (overdue)
            {
                // A request Ingest took and never answered (a hung append, say): the stream is given up, and what was in
                // flight on it is recovered, which fails the overdue batches with Timeout and resends the rest.
                BreakStream(new TimeoutException($"a request had no answer within {_options.DeliveryTimeout}"));
            }
            foreach (var batch in sends)
            {
                await WriteAsync(batch, stopping);
            }
            sends.Clear();
            try
            {
                await _wake.WaitAsync(sleep is { } linger && linger < s_overdueCheck ? linger : s_overdueCheck, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Under the lock: the batches to write now (sequenced, counted in flight), and how long until the next linger ends.</summary>
    private TimeSpan? CollectSends(List<Batch> sends)
    {
        var now = _time.GetTimestamp();
        TimeSpan? sleep = null;
        foreach (var state in _partitions.Values)
        {
            if (state.Open is { } open)
            {
                var age = _time.GetElapsedTime(open.Created, now);
                if (_flushes.Count > 0 || age >= _options.Linger)
                {
                    state.Close();
                    _metadata.MoveSticky(state.Topic, state.Partition, null);
                }
                else
                {
                    var left = _options.Linger - age;
                    sleep = sleep is null || left < sleep ? left : sleep;
                }
            }
            // A producer id's first batch goes alone: the broker takes any first sequence from a producer it does not know, so
            // a second batch must not be able to arrive first (were the first refused on the way, the second would be written).
            var limit = state.Established ? _options.MaxInFlightPerPartition : 1;
            while (!state.Recovering && state.Ready.Count > 0 && state.InFlight < limit && _inFlightCount < _options.MaxInFlight)
            {
                var batch = state.Ready.Dequeue();
                state.Sequence(batch);
                state.Unacked.Add(batch);
                state.InFlight++;
                _inFlightCount++;
                batch.Answer = null;
                sends.Add(batch);
            }
        }
        return sleep;
    }

    /// <summary>Writes one batch as a request on the stream (opening it when needed); a broken stream fails what is in flight, to be retried.</summary>
    private async Task WriteAsync(Batch batch, CancellationToken stopping)
    {
        ProduceRequest request;
        lock (_sync)
        {
            // Built and registered together, so the numbering kept for the answer is the one sent.
            request = batch.ToRequest(++_nextRequestId);
            _inFlight[request.RequestId] = (batch, new Sent(batch.ProducerId, batch.BaseSequence));
            batch.RequestId = request.RequestId;
        }
        try
        {
            var call = EnsureCall();
            await _writeLock.WaitAsync(stopping);
            try
            {
                await call.RequestStream.WriteAsync(request, stopping);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            BreakStream(ex);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse> EnsureCall()
    {
        lock (_sync)
        {
            if (_call is { } existing)
            {
                return existing;
            }
            var call = _ingest.Produce(cancellationToken: _stopping.Token);
            _call = call;
            _reader = Task.Run(() => ReadLoopAsync(call));
            return call;
        }
    }

    private async Task ReadLoopAsync(AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse> call)
    {
        try
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(_stopping.Token))
            {
                bool known;
                (Batch Batch, Sent Sent) sent;
                lock (_sync)
                {
                    known = _inFlight.Remove(response.RequestId, out sent);
                }
                if (known)
                {
                    Answer(sent.Batch, Outcome.From(response) with { Sent = sent.Sent });
                }
            }
            BreakStream(new RpcException(new Status(StatusCode.Unavailable, "Ingest ended the produce stream.")), call);
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
        {
            BreakStream(ex, call);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>The stream is gone: every batch in flight on it fails as retriable (it may or may not have been written).</summary>
    private void BreakStream(Exception reason, AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse>? call = null)
    {
        List<Batch> lost;
        lock (_sync)
        {
            if (call is not null && !ReferenceEquals(call, _call))
            {
                return;
            }
            _call?.Dispose();
            _call = null;
            lost = [.. _inFlight.Values.Select(s => s.Batch)];
            _inFlight.Clear();
        }
        var outcome = Outcome.Transient($"The produce stream to Ingest broke: {reason.Message}", null);
        foreach (var batch in lost.OrderBy(b => b.RequestId))
        {
            Answer(batch, outcome);
        }
    }

    /// <summary>A batch's answer: confirmed records complete; a failure starts (or feeds) its partition's recovery.</summary>
    private void Answer(Batch batch, Outcome outcome)
    {
        var state = batch.State;
        lock (_sync)
        {
            state.InFlight--;
            _inFlightCount--;
            if (batch.Answer is { } waiting)
            {
                // The partition is recovering and its task waits for this answer.
                waiting.TrySetResult(outcome);
                return;
            }
            if (state.Recovering)
            {
                batch.Pending = outcome;
                return;
            }
            if (outcome.Offsets is not null)
            {
                Confirm(batch, outcome);
                _wake.Release();
                return;
            }
            state.Recovering = true;
            batch.Pending = outcome;
        }
        _ = Task.Run(() => RecoverAsync(state));
    }

    /// <summary>Resends a partition's unconfirmed batches one at a time, in order, renumbered past any that were refused for good.</summary>
    private async Task RecoverAsync(PartitionState state)
    {
        var stopping = _stopping.Token;
        try
        {
            while (true)
            {
                Batch? head;
                lock (_sync)
                {
                    head = state.Unacked.Count > 0 ? state.Unacked[0] : null;
                    if (head is null)
                    {
                        state.Recovering = false;
                        break;
                    }
                }
                var outcome = await FirstAnswerAsync(head, stopping);
                while (outcome.Offsets is null && outcome.Retriable)
                {
                    if (_time.GetElapsedTime(head.Created) > _options.DeliveryTimeout)
                    {
                        // It may have been written: later batches must not reuse its sequences, so the partition takes a new producer id.
                        outcome = Outcome.Failed(ProduceError.Timeout, $"Not confirmed within {_options.DeliveryTimeout} (last: {outcome.Message}); the record may or may not have been written.");
                        lock (_sync)
                        {
                            state.NewProducerId();
                        }
                        break;
                    }
                    outcome = await _retry.ExecuteAsync(async token =>
                    {
                        var again = await ResendAsync(head, token);
                        if (_time.GetElapsedTime(head.Created) > _options.DeliveryTimeout)
                        {
                            return again; // the loop above says Timeout
                        }
                        if (again.OutOfOrder)
                        {
                            // Sent where the broker should expect it, and still out of order: the broker no longer knows
                            // this producer as it confirmed it (its state expired or was lost). Nothing of this batch was
                            // written, so the partition starts afresh as a new producer, at sequence 0.
                            lock (_sync)
                            {
                                state.NewProducerId();
                            }
                            throw new RetriableProduceException(again);
                        }
                        return again.Offsets is null && again.Retriable && _time.GetElapsedTime(head.Created) <= _options.DeliveryTimeout
                            ? throw new RetriableProduceException(again)
                            : again;
                    }, stopping);
                }
                lock (_sync)
                {
                    if (outcome.Offsets is not null)
                    {
                        Confirm(head, outcome);
                    }
                    else
                    {
                        state.Unacked.Remove(head);
                        head.Fail(outcome.ToException(head.State.Topic), this);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }
        catch (RetriableProduceException)
        {
            // Disposed mid-retry.
            return;
        }
        _wake.Release();
    }

    /// <summary>The head's answer from before recovery (or from its send still in flight), else a first resend.</summary>
    private async Task<Outcome> FirstAnswerAsync(Batch head, CancellationToken stopping)
    {
        Task<Outcome>? inFlight = null;
        lock (_sync)
        {
            if (head.Pending is { } pending)
            {
                head.Pending = null;
                return pending;
            }
            if (head.RequestId != 0 && _inFlight.ContainsKey(head.RequestId))
            {
                head.Answer = new TaskCompletionSource<Outcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                inFlight = head.Answer.Task;
            }
        }
        return inFlight is not null ? await inFlight.WaitAsync(stopping) : await ResendAsync(head, stopping);
    }

    /// <summary>Sends the head batch again (renumbered when a refused batch before it left a gap) and waits for its answer.</summary>
    private async Task<Outcome> ResendAsync(Batch head, CancellationToken cancellationToken)
    {
        TaskCompletionSource<Outcome> answer;
        lock (_sync)
        {
            head.State.Resequence(head);
            answer = head.Answer = new TaskCompletionSource<Outcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            head.State.InFlight++;
            _inFlightCount++;
        }
        ClientTelemetry.Resends.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", head.State.Topic));
        await WriteAsync(head, cancellationToken);
        return await answer.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Under the lock: the batch is in the log; its records learn their offsets.</summary>
    private void Confirm(Batch batch, Outcome outcome)
    {
        var state = batch.State;
        state.Unacked.Remove(batch);
        state.Acknowledged(batch, outcome.Sent);
        batch.Complete(outcome.Offsets!, this);
    }

    private async Task ReportLoopAsync()
    {
        await foreach (var batch in _reports.Reader.ReadAllAsync())
        {
            batch.Report(this);
        }
    }

    /// <summary>Under the lock: the batch's outcome is settled; its records hear of it on the reporter.</summary>
    internal void Settled(Batch batch) => _reports.Writer.TryWrite(batch);

    /// <summary>Called as each batch's records are told: frees their buffer room and ends waiting flushes.</summary>
    internal void Completed(int records, long bytes)
    {
        Release(bytes);
        lock (_sync)
        {
            _pendingRecords -= records;
            _settled += records;
            foreach (var (target, done) in _flushes)
            {
                if (target <= _settled)
                {
                    done.TrySetResult();
                }
            }
        }
    }

    /// <summary>One partition's producer state: its open batch, closed batches waiting, and those sent but not confirmed.</summary>
    internal sealed class PartitionState(string topic, int partition, bool idempotent)
    {
        public string Topic { get; } = topic;

        public int Partition { get; } = partition;

        public Batch? Open { get; set; }

        public Queue<Batch> Ready { get; } = new();

        /// <summary>Sent, not yet confirmed or refused, in sequence order.</summary>
        public List<Batch> Unacked { get; } = [];

        public int InFlight { get; set; }

        public bool Recovering { get; set; }

        public long? ProducerId { get; private set; } = idempotent ? NewId() : null;

        /// <summary>Whether the broker has confirmed a batch of this producer id (or it has none): then batches may overlap.</summary>
        public bool Established { get; private set; } = !idempotent;

        /// <summary>The sequence after the last confirmed batch: where the broker expects this producer to go on.</summary>
        private int _confirmedEnd;

        private int _nextSequence;

        public void Close()
        {
            if (Open is { } open)
            {
                Ready.Enqueue(open);
                Open = null;
            }
        }

        public void Sequence(Batch batch)
        {
            if (ProducerId is { } id && batch.ProducerId is null)
            {
                batch.ProducerId = id;
                batch.BaseSequence = _nextSequence;
                _nextSequence = RecordBatch.NextSequence(_nextSequence, batch.Records.Count);
            }
        }

        /// <summary>The head of a recovery starts where the broker expects; what follows it is numbered on from there.</summary>
        public void Resequence(Batch head)
        {
            if (ProducerId is not { } id || (head.ProducerId == id && head.BaseSequence == _confirmedEnd))
            {
                return;
            }
            var next = _confirmedEnd;
            foreach (var batch in Unacked.Concat(Ready))
            {
                batch.ProducerId = id;
                batch.BaseSequence = next;
                next = RecordBatch.NextSequence(next, batch.Records.Count);
            }
            _nextSequence = next;
        }

        /// <summary>
        /// The broker wrote the batch as <paramref name="sent"/> numbered it. A send from before a renumbering (under an
        /// older producer id) says nothing of where the broker expects the current id to go on.
        /// </summary>
        public void Acknowledged(Batch batch, Sent sent)
        {
            if (sent.ProducerId is { } id && id == ProducerId)
            {
                _confirmedEnd = RecordBatch.NextSequence(sent.BaseSequence, batch.Records.Count);
                Established = true;
            }
        }

        public void NewProducerId()
        {
            ProducerId = NewId();
            Established = false;
            _confirmedEnd = 0;
            _nextSequence = 0;
        }

        public void FailAll(ProduceException error, ProducerEngine engine)
        {
            foreach (var batch in Unacked.Concat(Ready).Append(Open).OfType<Batch>())
            {
                batch.Fail(error, engine);
            }
            Unacked.Clear();
            Ready.Clear();
            Open = null;
        }

        private static long NewId() => Random.Shared.NextInt64(1, long.MaxValue);
    }

    /// <summary>Records bound for one partition, sent as one request.</summary>
    internal sealed class Batch(PartitionState state, long created)
    {
        private readonly List<IRecordCompletion> _completions = [];
        private bool _done;

        public PartitionState State { get; } = state;

        public long Created { get; } = created;

        public List<ProduceRecord> Records { get; } = [];

        public int Bytes { get; private set; }

        public long? ProducerId { get; set; }

        public int BaseSequence { get; set; }

        public ulong RequestId { get; set; }

        /// <summary>During recovery: where the answer to the latest send goes.</summary>
        public TaskCompletionSource<Outcome>? Answer { get; set; }

        /// <summary>An answer that came while the partition was already recovering, for the recovery to take.</summary>
        public Outcome? Pending { get; set; }

        public void Add(ProduceRecord record, int size, IRecordCompletion completion)
        {
            Records.Add(record);
            _completions.Add(completion);
            Bytes += size;
        }

        public ProduceRequest ToRequest(ulong requestId)
        {
            var request = new ProduceRequest { RequestId = requestId, Topic = State.Topic, Partition = State.Partition };
            if (ProducerId is { } id)
            {
                request.ProducerId = id;
                request.BaseSequence = BaseSequence;
            }
            request.Records.AddRange(Records);
            return request;
        }

        private IReadOnlyList<RecordOffset>? _offsets;
        private ProduceException? _error;

        public void Complete(IReadOnlyList<RecordOffset> offsets, ProducerEngine engine)
        {
            if (_done)
            {
                return;
            }
            _done = true;
            _offsets = offsets;
            engine.Settled(this);
        }

        public void Fail(ProduceException error, ProducerEngine engine)
        {
            if (_done)
            {
                return;
            }
            _done = true;
            _error = error;
            engine.Settled(this);
        }

        /// <summary>On the reporter: each record learns its offset or the batch's error.</summary>
        public void Report(ProducerEngine engine)
        {
            for (var i = 0; i < _completions.Count; i++)
            {
                var offset = _offsets is { } offsets && i < offsets.Count ? offsets[i] : null;
                _completions[i].Complete(offset is not null
                    ? new DeliveryReport(new DeliveryResult(State.Topic, offset.Partition, offset.Offset), null)
                    : new DeliveryReport(default, _error ?? new ProduceException(ProduceError.InvalidArgument, "Ingest confirmed fewer records than the request held.")));
            }
            engine.Completed(_completions.Count, Bytes);
        }
    }

    /// <summary>The producer id (none without idempotence) and first sequence one request carried.</summary>
    internal readonly record struct Sent(long? ProducerId, int BaseSequence);

    /// <summary>A request's answer: offsets, or a failure that a retry may or may not mend.</summary>
    internal sealed record Outcome(IReadOnlyList<RecordOffset>? Offsets, bool Retriable, ProduceError Error, string Message, TimeSpan? RetryAfter)
    {
        /// <summary>FAILED_PRECONDITION: the batch's sequence is not the one the broker expects next.</summary>
        public bool OutOfOrder { get; init; }

        /// <summary>The producer id and sequence the answered request carried.</summary>
        public Sent Sent { get; init; }

        public static Outcome From(ProduceResponse response) => (StatusCode)response.StatusCode switch
        {
            StatusCode.OK => new Outcome(response.Offsets, false, default, "", null),
            // Backpressure, over quota, Redis down, or out of order behind a batch that failed: all mended by sending again.
            StatusCode.FailedPrecondition => Transient(response.StatusMessage, null) with { OutOfOrder = true },
            StatusCode.ResourceExhausted or StatusCode.Unavailable or StatusCode.Internal or StatusCode.Aborted =>
                Transient(response.StatusMessage, response.RetryAfterMs > 0 ? TimeSpan.FromMilliseconds(response.RetryAfterMs) : null),
            StatusCode.NotFound => Failed(ProduceError.TopicNotFound, response.StatusMessage),
            StatusCode.PermissionDenied or StatusCode.Unauthenticated => Failed(ProduceError.Forbidden, response.StatusMessage),
            _ => Failed(ProduceError.InvalidArgument, response.StatusMessage),
        };

        public static Outcome Transient(string message, TimeSpan? retryAfter) => new(null, true, default, message, retryAfter);

        public static Outcome Failed(ProduceError error, string message) => new(null, false, error, message, null);

        public ProduceException ToException(string topic) => new(Retriable ? ProduceError.Timeout : Error, $"Producing to {topic}: {Message}");
    }

    /// <summary>A send the retry pipeline should repeat.</summary>
    private sealed class RetriableProduceException(Outcome outcome) : Exception(outcome.Message)
    {
        public TimeSpan? RetryAfter => outcome.RetryAfter;
    }
}

/// <summary>Where one record's outcome goes: a task's completion source or a callback.</summary>
internal interface IRecordCompletion
{
    void Complete(DeliveryReport report);
}
