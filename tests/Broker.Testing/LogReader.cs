using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Record = Broker.Contracts.Batches.Record;

namespace Broker.Testing;

/// <summary>Reads a partition back through Storage's gRPC API (both tiers), as a consumer would, each batch validated.</summary>
public static class LogReader
{
    /// <summary>Every record of <paramref name="partition"/> from <paramref name="from"/> to its end.</summary>
    public static async Task<List<Record>> ReadAllAsync(this LogService.LogServiceClient storage, string topic, int partition, long from = 0,
        CancellationToken cancellationToken = default)
    {
        var records = new List<Record>();
        var offset = from;
        while (true)
        {
            var response = await storage.ReadAsync(new ReadRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = 4 << 20 }, cancellationToken: cancellationToken);
            if (response.Batches.Count == 0)
            {
                return records;
            }
            foreach (var batch in response.Batches)
            {
                foreach (var record in RecordBatch.Validate(batch.Memory).GetRecords())
                {
                    records.Add(record);
                }
            }
            offset = response.NextOffset;
        }
    }

    public static async Task<long[]> EndOffsetsAsync(this LogService.LogServiceClient storage, string topic) =>
        [.. (await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic })).Partitions.Select(p => p.EndOffset)];
}
