using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Broker.Contracts.Batches;
using Broker.Delivery.Apis;
using Broker.Delivery.Outbound;
using Broker.Delivery.StorageAccess;

namespace Broker.Delivery.Replays;

/// <summary>Where a replay's batches go. One partition's batches arrive in offset order, one call at a time.</summary>
internal interface IReplayTarget
{
    /// <summary>
    /// Whether progress must be written after every batch: the topic target's exactly-once rests on Storage
    /// recognising a repeated batch, which it does for a producer's last five batches only.
    /// </summary>
    bool CheckpointEachBatch => false;

    /// <summary>Before the first batch; answers true when the job is done by it (a rewind needs no records).</summary>
    Task<bool> PrepareAsync(ReplayJob job, CancellationToken cancellationToken);

    /// <summary>Delivers one batch of the partition (every record of it is inside the partition's range).</summary>
    Task WriteAsync(ReplayJob job, ReplayPartition partition, RecordBatch batch, CancellationToken cancellationToken);
}

/// <summary>Rewinds a group: its committed offsets become the start of the range, so it consumes from there again.</summary>
internal sealed class GroupRewind(LogClient log) : IReplayTarget
{
    public async Task<bool> PrepareAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        await log.CommitAsync(job.Target.Group!, job.Topic, [.. job.Partitions.Select(p => (p.Partition, p.From))], cancellationToken);
        foreach (var partition in job.Partitions)
        {
            partition.Next = partition.To;
        }
        return true;
    }

    public Task WriteAsync(ReplayJob job, ReplayPartition partition, RecordBatch batch, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Republishes into another topic, partition n into partition n (or n modulo the target's partitions).
/// Each source partition writes as an idempotent producer of its own (an id derived from the job), with
/// the sequence of each batch fixed by its offset in the range: a batch written again after a restart is
/// recognised by Storage and not stored twice, so a job puts each record in exactly once.
/// </summary>
internal sealed class TopicRepublish(LogClient log) : IReplayTarget
{
    private int _targetPartitions;

    public bool CheckpointEachBatch => true;

    public async Task<bool> PrepareAsync(ReplayJob job, CancellationToken cancellationToken)
    {
        var target = await log.DescribeAsync(job.Target.Topic!, cancellationToken)
            ?? throw new InvalidOperationException($"The target topic '{job.Target.Topic}' no longer exists.");
        _targetPartitions = target.Partitions;
        return false;
    }

    public async Task WriteAsync(ReplayJob job, ReplayPartition partition, RecordBatch batch, CancellationToken cancellationToken)
    {
        var sequence = (int)((batch.BaseOffset - partition.From) % ((long)int.MaxValue + 1));
        var bytes = batch.WithProducer(ProducerId(job.Id, partition.Partition), sequence);
        await log.AppendAsync(job.Target.Topic!, partition.Partition % _targetPartitions, bytes, cancellationToken);
    }

    /// <summary>A stable, positive producer id per job and source partition.</summary>
    internal static long ProducerId(string jobId, int partition) =>
        BinaryPrimitives.ReadInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"replay/{jobId}/{partition}"))) & long.MaxValue;
}

/// <summary>
/// POSTs each record as JSON to the job's URL, in offset order per partition (the client's resilience
/// handler retries transient failures). A record may arrive twice after a restart; its
/// <c>Replay-Record</c> header ("job/partition/offset") lets the receiver tell. Only the status of an answer is
/// looked at: its body is not read (the connection drains a little of it, or is closed). A failure fails the job
/// naming the record and saying "refused by the target (HTTP n)" or "the target did not answer", no more; the log
/// has the details. Each POST waits while the job's lease is not surely this instance's (<see cref="ReplayHold"/>), so
/// an instance that lost it unawares stops within the lease, not only when it finds out.
/// </summary>
internal sealed class HttpPost(HttpClient http, ReplayHold hold, ILogger logger) : IReplayTarget
{
    public Task<bool> PrepareAsync(ReplayJob job, CancellationToken cancellationToken) => Task.FromResult(false);

    public async Task WriteAsync(ReplayJob job, ReplayPartition partition, RecordBatch batch, CancellationToken cancellationToken)
    {
        var url = new Uri(job.Target.Url!);
        foreach (var record in batch.GetRecords())
        {
            var (key, keyBase64) = RecordText.Key(record.Key);
            var (value, valueBase64) = RecordText.Value(record.Value);
            var body = new ReplayedRecord(job.Topic, partition.Partition, record.Offset, record.Timestamp, key, keyBase64, value, valueBase64,
                RecordText.Headers(record.Headers));
            using var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = JsonContent.Create(body, ReplayHttpJsonContext.Default.ReplayedRecord),
            };
            request.Headers.Add("Replay-Record", $"{job.Id}/{partition.Partition}/{record.Offset}");
            await hold.WhileValidAsync(cancellationToken);
            var what = $"POST of {job.Topic}/{partition.Partition} offset {record.Offset}";
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var shown = OutboundErrors.Describe(ex);
                OutboundLog.CallFailed(logger, $"Replay {job.Id}: {what}", OutboundPolicy.Display(url), shown, OutboundErrors.Details(ex));
                throw new OutboundException($"{what}: {shown}.", ex);
            }
            using (response)
            {
                if (!response.IsSuccessStatusCode)
                {
                    throw new OutboundException($"{what}: {OutboundErrors.Refused((int)response.StatusCode)}.");
                }
            }
        }
    }
}

/// <summary>
/// Delivers nothing: reads the range and checks every batch (CRC, every record's framing, the header's
/// counts). A scrub of tiered history, and the measure of how fast history can be read back.
/// </summary>
internal sealed class Verify : IReplayTarget
{
    public Task<bool> PrepareAsync(ReplayJob job, CancellationToken cancellationToken) => Task.FromResult(false);

    public Task WriteAsync(ReplayJob job, ReplayPartition partition, RecordBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            RecordBatch.Validate(batch.Bytes);
        }
        catch (CorruptRecordBatchException ex)
        {
            throw new InvalidDataException($"{job.Topic}/{partition.Partition}: the batch at offset {batch.BaseOffset} is corrupt: {ex.Message}", ex);
        }
        return Task.CompletedTask;
    }
}

/// <summary>What an HTTP target receives: the record in the shape HTTP polling gives it, with its topic.</summary>
public sealed record ReplayedRecord(
    string Topic,
    int Partition,
    long Offset,
    long Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyBase64,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RawJson? Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ValueBase64,
    IReadOnlyDictionary<string, string> Headers);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReplayedRecord))]
internal sealed partial class ReplayHttpJsonContext : JsonSerializerContext;
