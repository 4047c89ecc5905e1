using Broker.Contracts.Batches;

namespace Broker.Ingest.Producing;

/// <summary>
/// One request's records on their way through the partition accumulators: offsets fill in as batches are
/// confirmed, and the request completes when the last one is (or fails with the first error). The
/// request's traceparent and receive time are kept here once rather than on every record.
/// </summary>
internal sealed class PendingProduce(IReadOnlyList<OutgoingRecord> records, byte[] traceParent, long receivedAt)
{
    private readonly TaskCompletionSource<ProducedOffset[]> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ProducedOffset[] _offsets = new ProducedOffset[records.Count];
    private int _remaining = records.Count;

    public IReadOnlyList<OutgoingRecord> Records => records;

    /// <summary>The traceparent header a record gets unless it carries its own (default: none to add).</summary>
    public RecordHeader TraceHeaderFor(in OutgoingRecord record) => Producer.TraceHeaderFor(record, traceParent);

    /// <summary>The record's timestamp: its own, or when Ingest received the request.</summary>
    public long TimestampOf(in OutgoingRecord record) => record.Timestamp ?? receivedAt;

    public Task<ProducedOffset[]> Task => _completion.Task;

    public void Confirmed(int index, int partition, long offset)
    {
        _offsets[index] = new ProducedOffset(partition, offset);
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _completion.TrySetResult(_offsets);
        }
    }

    public void Failed(Exception error) => _completion.TrySetException(error);
}
