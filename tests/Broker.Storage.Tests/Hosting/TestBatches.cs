using System.Text;
using Broker.Contracts.Batches;

namespace Broker.Storage.Tests.Hosting;

/// <summary>Uncompressed batches of UTF-8 string values, the shape most log tests append.</summary>
public static class TestBatches
{
    public static byte[] Build(IEnumerable<string> values, long producerId = -1, int baseSequence = -1, long timestamp = 1_000)
    {
        using var builder = new RecordBatchBuilder();
        foreach (var value in values)
        {
            builder.Add(Encoding.UTF8.GetBytes(value), timestamp);
        }
        return builder.Build(CompressionCodec.None, producerId, baseSequence);
    }
}
