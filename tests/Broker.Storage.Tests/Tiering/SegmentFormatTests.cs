using Broker.Contracts.Batches;
using Broker.Storage.Segments;
using Broker.Storage.Tests.Hosting;

namespace Broker.Storage.Tests.Tiering;

[Trait("Category", "Unit")]
public sealed class SegmentFormatTests
{
    /// <summary>Ten batches of ten records at offsets 100.., batch i stamped 1000 + 10 i.</summary>
    private static List<RecordBatch> Batches()
    {
        var batches = new List<RecordBatch>();
        for (var i = 0; i < 10; i++)
        {
            var bytes = TestBatches.Build(Enumerable.Range(0, 10).Select(r => $"b{i}-r{r}-" + new string('x', 200)), timestamp: 1000 + (10 * i));
            RecordBatch.SetBaseOffset(bytes, 100 + (10 * i));
            batches.Add(RecordBatch.Parse(bytes));
        }
        return batches;
    }

    [Fact]
    public void A_segment_holds_its_batches_back_to_back_and_its_tail_describes_them()
    {
        var batches = Batches();
        var writer = new SegmentWriter(indexIntervalBytes: 4096);
        batches.ForEach(writer.Add);
        var (bytes, info) = writer.Finish();

        Assert.Equal((100L, 200L, 100L, 10), (info.BaseOffset, info.NextOffset, info.RecordCount, info.BatchCount));
        Assert.Equal((1000L, 1090L), (info.FirstTimestamp, info.MaxTimestamp));
        Assert.Equal(batches.Sum(b => b.Bytes.Length), info.DataLength);
        Assert.Equal(bytes.Length, info.Size);
        Assert.Equal(info, SegmentInfo.Parse(info.Serialize()));
        // The data region is the batches, byte for byte.
        Assert.True(bytes.Span[..(int)info.DataLength].SequenceEqual(batches.SelectMany(b => b.Bytes.ToArray()).ToArray()));

        var index = SegmentIndex.Parse(bytes.Span[(int)info.DataLength..], info);
        Assert.Equal(Crc32C.Compute(bytes.Span[..(int)info.DataLength]), index.DataCrc);
        // Sparse: an entry every 4 KiB, so offset 155 starts at an indexed batch at or before its own.
        var position = index.PositionOf(155);
        var at = RecordBatch.Parse(bytes.Slice((int)position, batches.First(b => BatchPosition(batches, b) == position).Bytes.Length));
        Assert.True(at.BaseOffset <= 150);
        Assert.Equal(0, index.PositionOf(100));
        Assert.Equal(0, index.PositionOf(5)); // below the segment: its start
        // Time: the scan for 1041 starts at or before the batch stamped 1050 (the first that reaches it).
        var timePosition = index.PositionOfTime(1041);
        Assert.InRange(timePosition, 0, BatchPosition(batches, batches[5]));
        Assert.Equal(-1, index.PositionOfTime(5000));
    }

    [Fact]
    public void A_damaged_tail_or_one_of_another_segment_is_refused()
    {
        var writer = new SegmentWriter(1024);
        Batches().ForEach(writer.Add);
        var (bytes, info) = writer.Finish();
        var tail = bytes.Span[(int)info.DataLength..].ToArray();

        tail[3] ^= 0x40;
        Assert.Throws<InvalidDataException>(() => SegmentIndex.Parse(tail, info));
        tail[3] ^= 0x40;
        Assert.Throws<InvalidDataException>(() => SegmentIndex.Parse(tail, info with { BaseOffset = 101 }));
        Assert.Throws<InvalidDataException>(() => SegmentIndex.Parse(tail.AsSpan(1), info));
        SegmentIndex.Parse(tail, info);
    }

    [Fact]
    public void A_gap_between_batches_is_a_bug_the_writer_refuses()
    {
        var batches = Batches();
        var writer = new SegmentWriter(1024);
        writer.Add(batches[0]);
        Assert.Throws<InvalidOperationException>(() => writer.Add(batches[2]));
    }

    [Fact]
    public void Object_names_sort_by_offset()
    {
        Assert.Equal("broker/orders/3/00000000000000001234.seg", SegmentFormat.ObjectName("broker", "orders", 3, 1234));
        Assert.Equal("orders/0/00000000000000000000.seg", SegmentFormat.ObjectName("", "orders", 0, 0));
        Assert.True(string.CompareOrdinal(SegmentFormat.ObjectName("p", "t", 0, 99), SegmentFormat.ObjectName("p", "t", 0, 100)) < 0);
    }

    private static long BatchPosition(List<RecordBatch> batches, RecordBatch batch) =>
        batches.TakeWhile(b => b.BaseOffset != batch.BaseOffset).Sum(b => (long)b.Bytes.Length);
}
