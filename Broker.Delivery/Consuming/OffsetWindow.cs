namespace Broker.Delivery.Consuming;

/// <summary>
/// A partition's unsettled records in offset order, from the first one not settled (the offset a commit
/// stores) to the last one fetched. Offsets are dense, so a record is found by arithmetic, and the settled
/// prefix is dropped from the front: commit bookkeeping costs O(1) per record.
/// </summary>
internal sealed class OffsetWindow
{
    private PendingRecord?[] _ring = new PendingRecord?[64];
    private int _head;

    public OffsetWindow(long startOffset) => HeadOffset = startOffset;

    /// <summary>The first unsettled offset: everything before it is settled.</summary>
    public long HeadOffset { get; private set; }

    public int Count { get; private set; }

    /// <summary>The offset the next appended record must have.</summary>
    public long EndOffset => HeadOffset + Count;

    public void Append(PendingRecord record)
    {
        if (record.Offset != EndOffset)
        {
            throw new InvalidOperationException($"Record {record.Offset} does not follow {EndOffset - 1}.");
        }
        if (Count == _ring.Length)
        {
            var larger = new PendingRecord?[_ring.Length * 2];
            for (var i = 0; i < Count; i++)
            {
                larger[i] = _ring[(_head + i) % _ring.Length];
            }
            _ring = larger;
            _head = 0;
        }
        _ring[(_head + Count) % _ring.Length] = record;
        Count++;
    }

    public PendingRecord? Find(long offset)
    {
        var index = offset - HeadOffset;
        return index >= 0 && index < Count ? _ring[(_head + (int)index) % _ring.Length] : null;
    }

    /// <summary>Drops the settled records at the front; answers how many.</summary>
    public int DropSettledPrefix()
    {
        var dropped = 0;
        while (Count > 0 && _ring[_head]!.State == RecordState.Settled)
        {
            _ring[_head] = null;
            _head = (_head + 1) % _ring.Length;
            Count--;
            HeadOffset++;
            dropped++;
        }
        return dropped;
    }

    /// <summary>Starts over at <paramref name="offset"/> (the records before it are gone from the log).</summary>
    public void Reset(long offset)
    {
        Array.Clear(_ring);
        _head = 0;
        Count = 0;
        HeadOffset = offset;
    }
}
