using System.Threading.Channels;
using Broker.Contracts.Batches;

namespace Broker.Ingest.Producing;

/// <summary>
/// Collects one partition's records from every request into batches: a batch goes once it is full
/// (records or bytes) or its linger time is up. One append is in flight per partition, so batches land
/// in order and this partition's producer sequence never has gaps. Each accumulator is its own
/// idempotent producer (a random id, sequences from 0), so Storage can answer a retried append with the
/// original offsets. After Ingest:AccumulatorIdleMs without records it retires: it takes no more (TryAdd says
/// false and the producer makes a new one), sends what it took, and tells its owner.
/// </summary>
internal sealed class PartitionAccumulator
{
    // Unbounded on purpose: what enters is already bounded by the ProduceBudget at admission.
    private readonly Channel<Entry> _entries = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _topic;
    private readonly int _partition;
    private readonly Func<CompressionCodec> _codec;
    private readonly StorageAppender _appender;
    private readonly IngestOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<PartitionAccumulator> _retired;
    // Taken by every add and by retiring: an accumulator retires only while it holds nothing, so no record it took can be
    // sent after one its successor took (that would break per-key order).
    private readonly Lock _retiring = new();
    private bool _isRetired;
    private long _producerId = NewProducerId();
    private int _nextSequence;

    public PartitionAccumulator(
        string topic, int partition, Func<CompressionCodec> codec, StorageAppender appender,
        IngestOptions options, TimeProvider time, ILogger logger, Action<PartitionAccumulator> retired, CancellationToken stopping)
    {
        _retired = retired;
        _topic = topic;
        _partition = partition;
        _codec = codec;
        _appender = appender;
        _options = options;
        _time = time;
        _logger = logger;
        _ = Task.Run(() => RunAsync(stopping), CancellationToken.None);
    }

    /// <summary>Queues a record; false once this accumulator has retired (the caller takes a new one).</summary>
    public bool TryAdd(PendingProduce request, int index)
    {
        lock (_retiring)
        {
            return !_isRetired && _entries.Writer.TryWrite(new Entry(request, index));
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var reader = _entries.Reader;
        var batch = new List<Entry>(_options.MaxBatchRecords);
        using var builder = new RecordBatchBuilder();
        var linger = TimeSpan.FromMilliseconds(_options.LingerMs);
        try
        {
            while (await NextAsync(reader, stopping))
            {
                batch.Clear();
                builder.Reset();
                var deadline = _time.GetTimestamp() + (long)(linger.TotalSeconds * _time.TimestampFrequency);
                while (batch.Count < _options.MaxBatchRecords && builder.SizeInBytes < _options.MaxBatchBytes)
                {
                    if (reader.TryRead(out var entry))
                    {
                        batch.Add(entry);
                        var record = entry.Request.Records[entry.Index];
                        builder.Add(record.Key, record.Value.Span, record.Headers, entry.Request.TraceHeaderFor(record), entry.Request.TimestampOf(record));
                        continue;
                    }
                    var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
                    if (remaining <= TimeSpan.Zero || !await MoreWithin(reader, remaining, stopping))
                    {
                        break;
                    }
                }
                await SendAsync(batch, builder, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            var stopped = new ProduceException(ProduceError.Unavailable, "Ingest is shutting down.");
            while (reader.TryRead(out var entry))
            {
                entry.Request.Failed(stopped);
            }
            return;
        }
        IngestLog.AccumulatorRetired(_logger, _topic, _partition, _options.AccumulatorIdleMs);
        _retired(this);
    }

    /// <summary>
    /// Whether there are records to batch: at once when some are queued, else after waiting for them. False when the idle
    /// time passed with none: the accumulator has retired and takes no more.
    /// </summary>
    private async ValueTask<bool> NextAsync(ChannelReader<Entry> reader, CancellationToken stopping)
    {
        while (!reader.TryPeek(out _))
        {
            using var idle = new CancellationTokenSource(TimeSpan.FromMilliseconds(_options.AccumulatorIdleMs), _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, stopping);
            try
            {
                return await reader.WaitToReadAsync(linked.Token);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                lock (_retiring)
                {
                    if (!reader.TryPeek(out _))
                    {
                        _isRetired = true;
                        _entries.Writer.TryComplete();
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private async Task<bool> MoreWithin(ChannelReader<Entry> reader, TimeSpan wait, CancellationToken stopping)
    {
        var more = reader.WaitToReadAsync(stopping).AsTask();
        var finished = await Task.WhenAny(more, Task.Delay(wait, _time, stopping));
        return finished == more && await more;
    }

    private async Task SendAsync(List<Entry> batch, RecordBatchBuilder builder, CancellationToken stopping)
    {
        try
        {
            long baseOffset;
            try
            {
                baseOffset = await _appender.AppendAsync(_topic, _partition, builder.BuildInPlace(_codec(), _producerId, _nextSequence), stopping);
            }
            catch (ProduceException ex) when (ex.Error == ProduceError.OutOfOrderSequence)
            {
                // Storage lost track of this producer (its state expired, or an earlier append failed after it
                // was written): start again as a new producer, which is always in order.
                IngestLog.ProducerReset(_logger, _topic, _partition, ex.Message);
                _producerId = NewProducerId();
                _nextSequence = 0;
                baseOffset = await _appender.AppendAsync(_topic, _partition, builder.BuildInPlace(_codec(), _producerId, _nextSequence), stopping);
            }
            _nextSequence = RecordBatch.NextSequence(_nextSequence, batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Request.Confirmed(batch[i].Index, _partition, baseOffset + i);
            }
        }
        catch (Exception ex)
        {
            // Whatever went wrong fails this batch's requests, never the loop: later records still get sent.
            var failure = ex as ProduceException
                ?? new ProduceException(ProduceError.Unavailable, $"The batch for {_topic}/{_partition} was not written: {ex.Message}", ex);
            foreach (var entry in batch)
            {
                entry.Request.Failed(failure);
            }
        }
    }

    private static long NewProducerId() => Random.Shared.NextInt64(1, long.MaxValue);

    private readonly record struct Entry(PendingProduce Request, int Index);
}
