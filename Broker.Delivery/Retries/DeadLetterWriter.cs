using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Delivery.Consuming;
using Broker.Delivery.Groups;
using Broker.Delivery.StorageAccess;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Retries;

/// <summary>
/// Writes a record that used up its attempts to its topic's dead-letter topic (created on first use, with
/// as many partitions as the topic unless Delivery:DeadLetterPartitions says), into the same partition
/// number where it can, keeping key, value, timestamp and headers and adding headers that name where it
/// came from and why it failed.
/// </summary>
internal sealed class DeadLetterWriter(LogClient log, IOptions<DeliveryOptions> options)
{
    public const string TopicHeader = "dlq.original.topic";
    public const string PartitionHeader = "dlq.original.partition";
    public const string OffsetHeader = "dlq.original.offset";
    public const string GroupHeader = "dlq.group";
    public const string AttemptsHeader = "dlq.attempts";
    public const string ErrorHeader = "dlq.error";

    private readonly ConcurrentDictionary<string, Task<int>> _partitions = new(StringComparer.Ordinal);

    /// <summary>
    /// Answers the dead-letter record's partition and offset. <paramref name="error"/> is the reason kept in its
    /// headers (the record's last error when not given); <paramref name="deadLetterTopic"/> replaces the topic's own
    /// dead-letter topic (a Dapr subscription names its own).
    /// </summary>
    public async Task<(int Partition, long Offset)> WriteAsync(GroupTopic key, TopicDescription topic, PendingRecord record, CancellationToken cancellationToken,
        string? error = null, string? deadLetterTopic = null)
    {
        var target = deadLetterTopic ?? topic.DeadLetterTopic;
        var partitions = await PartitionsOfAsync(target, topic, cancellationToken);
        var partition = record.Partition % partitions;
        var headers = new List<RecordHeader>(record.Headers.Count + 6);
        headers.AddRange(record.Headers);
        headers.Add(Text(TopicHeader, key.Topic));
        headers.Add(Text(PartitionHeader, record.Partition.ToString(CultureInfo.InvariantCulture)));
        headers.Add(Text(OffsetHeader, record.Offset.ToString(CultureInfo.InvariantCulture)));
        headers.Add(Text(GroupHeader, key.Group));
        headers.Add(Text(AttemptsHeader, record.Attempts.ToString(CultureInfo.InvariantCulture)));
        headers.Add(Text(ErrorHeader, error ?? record.LastError ?? ""));
        using var builder = new RecordBatchBuilder(record.Value.Length + 512);
        builder.Add(record.Key, record.Value.Span, headers, record.Timestamp);
        try
        {
            var offset = await log.AppendAsync(target, partition, builder.BuildInPlace(), cancellationToken);
            return (partition, offset);
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            // Deleted since we looked: make it again next time.
            _partitions.TryRemove(target, out _);
            throw;
        }
    }

    private Task<int> PartitionsOfAsync(string deadLetterTopic, TopicDescription topic, CancellationToken cancellationToken)
    {
        var wanted = options.Value.DeadLetterPartitions > 0 ? options.Value.DeadLetterPartitions : topic.Partitions;
        var task = _partitions.GetOrAdd(deadLetterTopic, name => log.EnsureTopicAsync(name, wanted, CancellationToken.None));
        if (task.IsFaulted || task.IsCanceled)
        {
            _partitions.TryRemove(new KeyValuePair<string, Task<int>>(deadLetterTopic, task));
        }
        return task.WaitAsync(cancellationToken);
    }

    private static RecordHeader Text(string name, string value) => new(name, Encoding.UTF8.GetBytes(value));
}
