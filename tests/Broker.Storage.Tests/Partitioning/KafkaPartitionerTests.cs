using System.Text;
using Broker.Contracts.Partitioning;

namespace Broker.Storage.Tests.Partitioning;

/// <summary>
/// Pins <see cref="KafkaPartitioner"/> to values published by Kafka and by Kafka clients that match the Java
/// producer, so keyed records land on the partition a Kafka user expects.
/// </summary>
[Trait("Category", "Unit")]
public class KafkaPartitionerTests
{
    // apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
    [Theory]
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    public void Murmur2MatchesKafkaUtilsTest(string key, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.Murmur2(Encoding.UTF8.GetBytes(key)));
    }

    // apache/kafka UtilsTest.testMurmur2: new byte[] {'a', 'b', 'c'} -> 479470107.
    [Theory]
    [InlineData(new byte[] { (byte)'a', (byte)'b', (byte)'c' }, 479470107)]
    public void Murmur2MatchesKafkaUtilsTestRawBytes(byte[] key, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.Murmur2(key));
    }

    // segmentio/kafka-go balancer_test.go, TestMurmur2 ("JavaMurmur2Result", unsigned form of Java's int).
    // Covers every tail length (0-3 trailing bytes) and keys longer than one block.
    [Theory]
    [InlineData("kafka", 0xd067cf64u)]
    [InlineData("giberish123456789", 0x8f552b0cu)]
    [InlineData("1234", 0x9fc97b14u)]
    [InlineData("234", 0xe7c009cau)]
    [InlineData("34", 0x873930dau)]
    [InlineData("4", 0x5a4b5ca1u)]
    [InlineData("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1cu)]
    [InlineData("reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377u)]
    [InlineData("eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09eu)]
    [InlineData("AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43fu)]
    [InlineData("", 0x106e08d9u)]
    public void Murmur2MatchesJavaResultsPinnedByKafkaGo(string key, uint expected)
    {
        Assert.Equal(expected, unchecked((uint)KafkaPartitioner.Murmur2(Encoding.UTF8.GetBytes(key))));
    }

    [Fact]
    public void Murmur2EmptyKeyMatchesJava()
    {
        // Java Utils.murmur2(new byte[0]) = 0x106e08d9 (librdkafka tests/0048-partitioner.c, kafka-go TestMurmur2).
        Assert.Equal(0x106e08d9, KafkaPartitioner.Murmur2(ReadOnlySpan<byte>.Empty));
    }

    // dpkp/kafka-python test/test_partitioner.py, test_murmur2_java_compatibility:
    // "compare with output from Kafka's org.apache.kafka.clients.producer.Partitioner", 1000 partitions.
    [Theory]
    [InlineData(new byte[] { }, 681)]
    [InlineData(new byte[] { (byte)'a' }, 524)]
    [InlineData(new byte[] { (byte)'a', (byte)'b' }, 434)]
    [InlineData(new byte[] { (byte)'a', (byte)'b', (byte)'c' }, 107)]
    [InlineData(new byte[] { (byte)'1', (byte)'2', (byte)'3', (byte)'4', (byte)'5', (byte)'6', (byte)'7', (byte)'8', (byte)'9' }, 566)]
    [InlineData(new byte[] { 0x00, 0x20 }, 742)]
    public void PartitionForKeyMatchesJavaPartitioner1000Partitions(byte[] key, int expectedPartition)
    {
        Assert.Equal(expectedPartition, KafkaPartitioner.PartitionForKey(key, 1000));
    }

    // confluentinc/librdkafka tests/0048-partitioner.c, "murmur2" partitioner: expected partition is
    // toPositive(murmur2(key)) % part_cnt, hashes taken from the Java client (tests/java/Murmur2Cli),
    // with part_cnt 17 (and 7 in quick mode). "23456" is the test's unaligned key ("123456" + 1).
    [Theory]
    [InlineData("", 17, 0x106e08d9 % 17)]
    [InlineData("23456", 17, 0x058d780f % 17)]
    [InlineData("this is another string with more length to it perhaps", 17, 0x4f7703da % 17)]
    [InlineData("hejsan", 17, 0x5ec19395 % 17)]
    [InlineData("", 7, 0x106e08d9 % 7)]
    [InlineData("23456", 7, 0x058d780f % 7)]
    [InlineData("this is another string with more length to it perhaps", 7, 0x4f7703da % 7)]
    [InlineData("hejsan", 7, 0x5ec19395 % 7)]
    public void PartitionForKeyMatchesLibrdkafkaMurmur2Partitioner(string key, int partitionCount, int expectedPartition)
    {
        Assert.Equal(expectedPartition, KafkaPartitioner.PartitionForKey(Encoding.UTF8.GetBytes(key), partitionCount));
    }

    // Keys whose Kafka hash (pinned above) is negative: Kafka's toPositive is hash & 0x7fffffff, and
    // Math.Abs(hash) % n would give a different partition for each of these.
    [Theory]
    [InlineData("21", 1000, 340)]       // -973932308 & 0x7fffffff = 1173551340 (Abs: 308)
    [InlineData("foobar", 7, 0)]        // -790332482 & 0x7fffffff = 1357151166 (Abs: 2)
    [InlineData("kafka", 10, 0)]        // 0xd067cf64 & 0x7fffffff = 1348980580 (Abs: 8)
    public void PartitionForKeyNegativeHashClearsSignBitLikeKafka(string key, int partitionCount, int expectedPartition)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        Assert.True(KafkaPartitioner.Murmur2(bytes) < 0);
        Assert.Equal(expectedPartition, KafkaPartitioner.PartitionForKey(bytes, partitionCount));
    }

    [Fact]
    public void PartitionForKeyEmptyKeyIsHashedNotRejected()
    {
        Assert.Equal(0x106e08d9 % 12, KafkaPartitioner.PartitionForKey(ReadOnlySpan<byte>.Empty, 12));
    }

    [Fact]
    public void PartitionForKeySinglePartitionIsAlwaysZero()
    {
        Assert.Equal(0, KafkaPartitioner.PartitionForKey("21"u8, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void PartitionForKeyPartitionCountBelowOneThrows(int partitionCount)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KafkaPartitioner.PartitionForKey("key"u8, partitionCount));
    }
}
