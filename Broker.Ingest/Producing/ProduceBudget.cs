using Microsoft.Extensions.Options;

namespace Broker.Ingest.Producing;

/// <summary>
/// The bound on what Ingest holds: bytes of records accepted but not yet confirmed by Storage. A request
/// that does not fit is refused at once (429 / RESOURCE_EXHAUSTED) rather than queued, so memory stays
/// flat however slow Storage gets. Every per-partition queue is bounded by this budget.
/// </summary>
public sealed class ProduceBudget(IOptions<IngestOptions> options)
{
    private readonly long _capacity = options.Value.MaxBufferedBytes;
    private long _used;

    public long UsedBytes => Volatile.Read(ref _used);

    public bool TryReserve(long bytes)
    {
        while (true)
        {
            var used = Volatile.Read(ref _used);
            // A request larger than the whole budget is still admitted into an empty buffer, or it could never pass.
            if (used > 0 && used + bytes > _capacity)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return true;
            }
        }
    }

    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);
}
