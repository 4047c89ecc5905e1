using System.Text;
using Broker.Contracts.Batches;

namespace Broker.Storage.Tests.Batches;

[Trait("Category", "Unit")]
public sealed class RecordBatchTests
{
    private static readonly long s_now = DateTimeOffset.Parse("2026-11-23T10:00:00Z").ToUnixTimeMilliseconds();

    [Theory]
    [InlineData(CompressionCodec.None)]
    [InlineData(CompressionCodec.Lz4)]
    [InlineData(CompressionCodec.Zstd)]
    public void Round_trip_keeps_keys_values_headers_and_timestamps(CompressionCodec codec)
    {
        var large = new byte[300_000];
        new Random(7).NextBytes(large);
        var manyHeaders = Enumerable.Range(0, 200)
            .Select(i => new RecordHeader($"h-{i}", Encoding.UTF8.GetBytes($"value {i}")))
            .ToArray();
        var expected = new[]
        {
            (Key: (byte[]?)[], Value: "empty key"u8.ToArray(), Headers: Array.Empty<RecordHeader>(), Timestamp: s_now),
            (Key: null, Value: "no key"u8.ToArray(), Headers: [], Timestamp: s_now + 5),
            (Key: "k"u8.ToArray(), Value: large, Headers: [], Timestamp: s_now - 1000),
            (Key: "headers"u8.ToArray(), Value: Array.Empty<byte>(), Headers: manyHeaders, Timestamp: s_now + 1),
            (Key: "unicode"u8.ToArray(), Value: "ünïcødé"u8.ToArray(), Headers: [new RecordHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"u8.ToArray()), new RecordHeader("é", ReadOnlyMemory<byte>.Empty)], Timestamp: s_now),
        };

        using var builder = new RecordBatchBuilder();
        foreach (var r in expected)
        {
            // A null array would convert to an empty key, not to no key: say which explicitly.
            builder.Add(r.Key is null ? (ReadOnlyMemory<byte>?)null : r.Key, r.Value, r.Headers, r.Timestamp);
        }
        var bytes = builder.Build(codec, producerId: 42, baseSequence: 7);
        RecordBatch.SetBaseOffset(bytes, 1000);

        var batch = RecordBatch.Validate(bytes);
        Assert.Equal(codec, batch.Codec);
        Assert.Equal(1000, batch.BaseOffset);
        Assert.Equal(expected.Length, batch.RecordCount);
        Assert.Equal(1005, batch.NextOffset);
        Assert.Equal(42, batch.ProducerId);
        Assert.Equal(7, batch.BaseSequence);
        Assert.Equal(s_now, batch.FirstTimestamp);
        Assert.Equal(s_now + 5, batch.MaxTimestamp);

        var i = 0;
        foreach (var record in batch.GetRecords())
        {
            var want = expected[i];
            Assert.Equal(1000 + i, record.Offset);
            Assert.Equal(want.Timestamp, record.Timestamp);
            Assert.Equal(want.Key is null, record.Key is null);
            if (want.Key is not null)
            {
                Assert.Equal(want.Key, record.Key!.Value.ToArray());
            }
            Assert.Equal(want.Value, record.Value.ToArray());
            Assert.Equal(want.Headers.Length, record.Headers.Count);
            for (var h = 0; h < want.Headers.Length; h++)
            {
                Assert.Equal(want.Headers[h].Name, record.Headers[h].Name);
                Assert.Equal(want.Headers[h].Value.ToArray(), record.Headers[h].Value.ToArray());
            }
            i++;
        }
        Assert.Equal(expected.Length, i);
    }

    [Theory]
    [InlineData(CompressionCodec.None)]
    [InlineData(CompressionCodec.Lz4)]
    [InlineData(CompressionCodec.Zstd)]
    public void Building_in_place_gives_the_same_bytes_and_an_extra_header_lands_last(CompressionCodec codec)
    {
        var trace = new RecordHeader("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"u8.ToArray());
        RecordHeader[] own = [new("source", "test"u8.ToArray())];
        using var plain = new RecordBatchBuilder(64);
        using var stamped = new RecordBatchBuilder(64);
        for (var i = 0; i < 50; i++)
        {
            var value = Encoding.UTF8.GetBytes($"value {i} {new string('x', i * 40)}");
            plain.Add("k"u8.ToArray(), value, [.. own, trace], s_now + i);
            stamped.Add("k"u8.ToArray(), value, own, trace, s_now + i);
        }

        var built = plain.Build(codec, producerId: 9, baseSequence: 3);
        Assert.Equal(built, stamped.BuildInPlace(codec, producerId: 9, baseSequence: 3).ToArray());
        // Building again with another producer rewrites the header in place (a producer reset does this).
        var again = RecordBatch.Parse(stamped.BuildInPlace(codec, producerId: 10, baseSequence: 0).ToArray());
        Assert.Equal(10, again.ProducerId);
        Assert.Equal(0, again.BaseSequence);
        var records = 0;
        foreach (var record in again.GetRecords())
        {
            Assert.Equal(["source", "traceparent"], record.Headers.Select(h => h.Name));
            records++;
        }
        Assert.Equal(50, records);
    }

    [Fact]
    public void Compression_shrinks_repetitive_records()
    {
        using var builder = new RecordBatchBuilder();
        for (var i = 0; i < 100; i++)
        {
            builder.Add(Encoding.UTF8.GetBytes($"{{\"order\":{i},\"status\":\"created\",\"customer\":\"contoso\"}}"), s_now);
        }
        var plain = builder.Build(CompressionCodec.None);
        Assert.True(builder.Build(CompressionCodec.Lz4).Length < plain.Length / 2);
        Assert.True(builder.Build(CompressionCodec.Zstd).Length < plain.Length / 2);
    }

    [Theory]
    [InlineData(CompressionCodec.None)]
    [InlineData(CompressionCodec.Lz4)]
    [InlineData(CompressionCodec.Zstd)]
    public void Any_flipped_byte_after_the_base_offset_is_detected(CompressionCodec codec)
    {
        var bytes = SampleBatch(codec, 20);
        // Every byte from the length field to the end is protected (length and magic by framing, the rest by CRC).
        for (var position = RecordBatchLayout.BatchLengthPosition; position < bytes.Length; position++)
        {
            var corrupt = (byte[])bytes.Clone();
            corrupt[position] ^= 0x10;
            Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(corrupt));
        }
    }

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        // The CRC-32C (Castagnoli) check value from the CRC catalogue.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Truncated_and_padded_batches_are_refused()
    {
        var bytes = SampleBatch(CompressionCodec.None, 5);
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bytes.AsMemory(0, bytes.Length - 1)));
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bytes.Concat(new byte[1]).ToArray()));
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bytes.AsMemory(0, 10)));
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public void A_crc_valid_batch_whose_records_do_not_parse_is_refused()
    {
        var bytes = SampleBatch(CompressionCodec.None, 3);
        // Claim one more record than the batch holds and re-sign it: framing and CRC pass, the walk must not.
        BitConverter.TryWriteBytes(bytes.AsSpan(RecordBatchLayout.RecordCountPosition), 4);
        BitConverter.TryWriteBytes(bytes.AsSpan(RecordBatchLayout.CrcPosition), Crc32C.Compute(bytes.AsSpan(RecordBatchLayout.CrcCoveredStart)));
        Assert.NotNull(RecordBatch.Parse(bytes).Bytes.ToArray());
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bytes));
    }

    [Theory]
    [InlineData(CompressionCodec.None)]
    [InlineData(CompressionCodec.Zstd)]
    public void Trimming_starts_the_batch_at_the_asked_offset(CompressionCodec codec)
    {
        var bytes = SampleBatch(codec, 10, producerId: 9, baseSequence: 100);
        RecordBatch.SetBaseOffset(bytes, 50);
        var trimmed = RecordBatch.Validate(RecordBatch.Validate(bytes).TrimBefore(53));

        Assert.Equal(53, trimmed.BaseOffset);
        Assert.Equal(7, trimmed.RecordCount);
        Assert.Equal(103, trimmed.BaseSequence);
        var offsets = new List<long>();
        foreach (var record in trimmed.GetRecords())
        {
            offsets.Add(record.Offset);
            Assert.Equal($"value-{record.Offset - 50}", Encoding.UTF8.GetString(record.Value.Span));
        }
        Assert.Equal([53, 54, 55, 56, 57, 58, 59], offsets);
    }

    [Fact]
    public void Recompressing_keeps_the_records_and_the_producer()
    {
        var plain = SampleBatch(CompressionCodec.None, 10, producerId: 3, baseSequence: 1);
        var compressed = RecordBatch.Validate(RecordBatch.Parse(plain).Recompress(CompressionCodec.Lz4));
        Assert.Equal(CompressionCodec.Lz4, compressed.Codec);
        Assert.Equal(3, compressed.ProducerId);
        Assert.Equal(1, compressed.BaseSequence);
        var values = new List<string>();
        foreach (var record in compressed.GetRecords())
        {
            values.Add(Encoding.UTF8.GetString(record.Value.Span));
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"value-{i}"), values);
    }

    [Fact]
    public void A_record_length_near_int_max_is_corruption_not_an_overflow()
    {
        var bytes = SampleBatch(CompressionCodec.None, 1);
        // Replace the first record's length prefix with int.MaxValue (FF FF FF FF 07), keeping the batch size.
        var forged = bytes.Take(RecordBatchLayout.HeaderSize).Concat(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x07 })
            .Concat(bytes.Skip(RecordBatchLayout.HeaderSize + 1)).ToArray();
        Resign(forged);
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(forged));
    }

    [Theory]
    [InlineData(CompressionCodec.Lz4)]
    [InlineData(CompressionCodec.Zstd)]
    public void A_compressed_batch_may_not_claim_more_than_the_uncompressed_limit(CompressionCodec codec)
    {
        // 8 MB of zeros compresses to a few KB: a small request that would expand far past the limit.
        using var builder = new RecordBatchBuilder();
        builder.Add(new byte[8 * 1024 * 1024], s_now);
        var bomb = builder.Build(codec);
        Assert.True(bomb.Length < 100_000);

        var error = Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bomb, maxRecordsLength: 1024 * 1024));
        Assert.Contains("limit is 1048576", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, RecordBatch.Validate(bomb, maxRecordsLength: 16 * 1024 * 1024).RecordCount);

        // A header that lies about the size is refused before anything is allocated for it.
        BitConverter.TryWriteBytes(bomb.AsSpan(RecordBatchLayout.RecordsLengthPosition), int.MaxValue);
        Resign(bomb);
        Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bomb));
    }

    [Fact]
    public void A_header_max_timestamp_that_is_not_the_records_is_refused()
    {
        // Retention trusts the header's max timestamp: a forged one could pin a partition forever.
        var bytes = SampleBatch(CompressionCodec.None, 3);
        BitConverter.TryWriteBytes(bytes.AsSpan(RecordBatchLayout.MaxTimestampPosition), long.MaxValue);
        Resign(bytes);
        var error = Assert.Throws<CorruptRecordBatchException>(() => RecordBatch.Validate(bytes));
        Assert.Contains("max timestamp", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 5, 5)]
    [InlineData(int.MaxValue - 1, 1, int.MaxValue)]
    [InlineData(int.MaxValue - 1, 5, 3)]
    [InlineData(int.MaxValue, 1, 0)]
    public void Producer_sequences_wrap_to_zero_past_int_max(int sequence, int count, int next) =>
        Assert.Equal(next, RecordBatch.NextSequence(sequence, count));

    [Fact]
    public void Trimming_across_the_sequence_wrap_keeps_the_sequence_valid()
    {
        var bytes = SampleBatch(CompressionCodec.None, 5, producerId: 1, baseSequence: int.MaxValue - 1);
        var trimmed = RecordBatch.Validate(RecordBatch.Validate(bytes).TrimBefore(3));
        Assert.Equal(1, trimmed.BaseSequence);
    }

    private static void Resign(byte[] batch)
    {
        BitConverter.TryWriteBytes(batch.AsSpan(RecordBatchLayout.BatchLengthPosition), batch.Length - RecordBatchLayout.LogOverhead);
        BitConverter.TryWriteBytes(batch.AsSpan(RecordBatchLayout.CrcPosition), Crc32C.Compute(batch.AsSpan(RecordBatchLayout.CrcCoveredStart)));
    }

    [Fact]
    public void An_empty_batch_cannot_be_built()
    {
        using var builder = new RecordBatchBuilder();
        Assert.Throws<InvalidOperationException>(() => builder.Build());
    }

    internal static byte[] SampleBatch(CompressionCodec codec, int count, long producerId = -1, int baseSequence = -1)
    {
        using var builder = new RecordBatchBuilder();
        for (var i = 0; i < count; i++)
        {
            builder.Add(Encoding.UTF8.GetBytes($"key-{i}"), Encoding.UTF8.GetBytes($"value-{i}"),
                [new RecordHeader("n", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))], s_now + i);
        }
        return builder.Build(codec, producerId, baseSequence);
    }

    [Theory]
    [InlineData(CompressionCodec.None)]
    [InlineData(CompressionCodec.Lz4)]
    public void TrimAfter_keeps_the_records_before_an_offset_and_WithProducer_restamps_a_batch_that_still_validates(CompressionCodec codec)
    {
        using var builder = new RecordBatchBuilder();
        for (var i = 0; i < 10; i++)
        {
            builder.Add(Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"v{i}"), [new RecordHeader("h", new byte[] { (byte)i })], s_now + i);
        }
        var bytes = builder.Build(codec, producerId: 7, baseSequence: 30);
        RecordBatch.SetBaseOffset(bytes, 100);
        var batch = RecordBatch.Validate(bytes);

        var head = RecordBatch.Validate(batch.TrimAfter(104));
        Assert.Equal((100L, 4, 7L, 30), (head.BaseOffset, head.RecordCount, head.ProducerId, head.BaseSequence));
        Assert.Equal(["v0", "v1", "v2", "v3"], Records(head).Select(r => Encoding.UTF8.GetString(r.Value.Span)));
        Assert.Equal(s_now + 3, head.MaxTimestamp);
        Assert.Equal(bytes, batch.TrimAfter(110));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.TrimAfter(100));

        var restamped = RecordBatch.Validate(batch.WithProducer(123_456, 9));
        Assert.Equal((123_456L, 9, codec, 10), (restamped.ProducerId, restamped.BaseSequence, restamped.Codec, restamped.RecordCount));
        Assert.Equal(Records(batch).Select(r => r.Value.ToArray()), Records(restamped).Select(r => r.Value.ToArray()));
    }

    private static List<Broker.Contracts.Batches.Record> Records(RecordBatch batch)
    {
        var records = new List<Broker.Contracts.Batches.Record>();
        foreach (var record in batch.GetRecords())
        {
            records.Add(record);
        }
        return records;
    }
}
