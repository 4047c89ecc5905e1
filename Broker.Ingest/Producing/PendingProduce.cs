namespace Broker.Ingest.Producing;

/// <summary>
/// One request's records on their way through the partition accumulators: offsets fill in as batches are
/// confirmed, and the request completes when the last one is (or fails with the first error).
/// </summary>
internal sealed class PendingProduce(int count)
{
    private readonly TaskCompletionSource<ProducedOffset[]> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ProducedOffset[] _offsets = new ProducedOffset[count];
    private int _remaining = count;

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
