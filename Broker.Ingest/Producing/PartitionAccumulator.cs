using System.Threading.Channels;
using Broker.Contracts.Batches;

namespace Broker.Ingest.Producing;

/// <summary>
/// Collects one partition's records from every request into batches: a batch goes once it is full
/// (records or bytes) or its linger time is up. One append is in flight per partition, so batches land
/// in order and this partition's producer sequence never has gaps. Each accumulator is its own
/// idempotent producer (a random id, sequences from 0), so Storage can answer a retried append with the
/// original offsets.
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
    private long _producerId = NewProducerId();
    private int _nextSequence;

    public PartitionAccumulator(
        string topic, int partition, Func<CompressionCodec> codec, StorageAppender appender,
        IngestOptions options, TimeProvider time, ILogger logger, CancellationToken stopping)
    {
        _topic = topic;
        _partition = partition;
        _codec = codec;
        _appender = appender;
        _options = options;
        _time = time;
        _logger = logger;
        _ = Task.Run(() => RunAsync(stopping), CancellationToken.None);
    }

    public void Add(PendingProduce request, int index) => _entries.Writer.TryWrite(new Entry(request, index));

    private async Task RunAsync(CancellationToken stopping)
    {
        var reader = _entries.Reader;
        var batch = new List<Entry>(_options.MaxBatchRecords);
        using var builder = new RecordBatchBuilder();
        var linger = TimeSpan.FromMilliseconds(_options.LingerMs);
        try
        {
            while (await reader.WaitToReadAsync(stopping))
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
        }
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
