using Broker.Contracts.Storage;
using Broker.Delivery.Groups;
using Google.Protobuf;
using Grpc.Core;
using Polly;
using Polly.Retry;

namespace Broker.Delivery.StorageAccess;

/// <summary>A topic as Delivery needs it: partitions, their ends, and the delivery settings kept with the topic.</summary>
public sealed record TopicDescription(
    string Name, int Partitions, long[] StartOffsets, long[] EndOffsets, int MaxDeliveryAttempts, string DeadLetterTopic, long MessageTtlMs);

/// <summary>Batches read from one partition, and where the partition stands.</summary>
public readonly record struct ReadResult(IReadOnlyList<ByteString> Batches, long NextOffset, long LogStartOffset, long EndOffset);

/// <summary>A read below the partition's first kept offset (retention removed it): reading resumes at <see cref="LogStartOffset"/>.</summary>
public sealed class OffsetOutOfRangeException(string message, long logStartOffset) : Exception(message)
{
    public long LogStartOffset { get; } = logStartOffset;
}

/// <summary>
/// Storage's log API as Delivery uses it. Reads, offset commits and topic lookups are idempotent, so
/// transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) are retried with backoff. Dead-letter appends are
/// retried too: a lost answer may then write a dead-letter record twice (at least once, never lost).
/// </summary>
public sealed class LogClient
{
    private readonly LogService.LogServiceClient _storage;
    private readonly ResiliencePipeline _retry;

    public LogClient(LogService.LogServiceClient storage, ILogger<LogClient> logger)
    {
        _storage = storage;
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(e => e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded),
                MaxRetryAttempts = 4,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                OnRetry = args =>
                {
                    DeliveryLog.StorageRetry(logger, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                    return default;
                },
            })
            .Build();
    }

    /// <summary>The topic, or null when it does not exist.</summary>
    public async Task<TopicDescription?> DescribeAsync(string topic, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _retry.ExecuteAsync(
                static async (state, token) => await state.Storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = state.Topic }, cancellationToken: token),
                (Storage: _storage, Topic: topic), cancellationToken);
            var count = response.Partitions.Count;
            var starts = new long[count];
            var ends = new long[count];
            foreach (var p in response.Partitions)
            {
                starts[p.Partition] = p.StartOffset;
                ends[p.Partition] = p.EndOffset;
            }
            return new TopicDescription(response.Topic, count, starts, ends, response.MaxDeliveryAttempts,
                response.DeadLetterTopic, response.MessageTtlMs == 0 ? -1 : response.MessageTtlMs);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Follows a partition from <paramref name="offset"/>: each batch read as it is appended, until cancelled.
    /// OUT_OF_RANGE below the partition's start becomes <see cref="OffsetOutOfRangeException"/>.
    /// </summary>
    public async IAsyncEnumerable<ReadResult> TailAsync(
        string topic, int partition, long offset, int maxBytes, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = _storage.Tail(new TailRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = maxBytes }, cancellationToken: cancellationToken);
        while (true)
        {
            try
            {
                if (!await call.ResponseStream.MoveNext(cancellationToken))
                {
                    yield break;
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.OutOfRange)
            {
                throw await OutOfRangeAsync(ex, topic, partition, offset, cancellationToken);
            }
            var response = call.ResponseStream.Current;
            yield return new ReadResult(response.Batches, response.NextOffset, response.LogStartOffset, response.EndOffset);
        }
    }

    private async Task<Exception> OutOfRangeAsync(RpcException ex, string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        var description = await DescribeAsync(topic, cancellationToken);
        var start = description is not null && partition < description.Partitions ? description.StartOffsets[partition] : 0;
        // Past the end is a real error; below the start, retention took the records.
        return offset >= start ? ex : new OffsetOutOfRangeException(ex.Status.Detail, start);
    }

    /// <summary>The group's next offset per partition; -1 where it has committed nothing.</summary>
    public async Task<long[]> FetchCommittedAsync(string group, string topic, int partitions, CancellationToken cancellationToken) =>
        (await FenceAndFetchAsync(group, topic, partitions, [], cancellationToken)).Offsets;

    /// <summary>
    /// Raises the partitions' fencing epochs in Storage to the leases' (so commits of older leases are refused from
    /// now on), then answers the group's next offset per partition (-1 where it has committed nothing) and the partitions
    /// a newer lease already holds.
    /// </summary>
    public async Task<(long[] Offsets, IReadOnlyList<int> Fenced)> FenceAndFetchAsync(
        string group, string topic, int partitions, IReadOnlyList<LeaseGrant> fence, CancellationToken cancellationToken)
    {
        var request = new FetchOffsetsRequest { Group = group, Topic = topic };
        foreach (var (partition, epoch) in fence)
        {
            request.Fence.Add(new GroupOffset { Partition = partition, LeaseEpoch = epoch });
        }
        var response = await _retry.ExecuteAsync(
            static async (state, token) => await state.Storage.FetchOffsetsAsync(state.Request, cancellationToken: token),
            (Storage: _storage, Request: request), cancellationToken);
        var offsets = new long[Math.Max(partitions, response.Offsets.Count)];
        Array.Fill(offsets, -1);
        foreach (var o in response.Offsets)
        {
            offsets[o.Partition] = o.Offset;
        }
        return (offsets, response.FencedPartitions);
    }

    /// <summary>Commits offsets without a lease (an administrative move of the group's position): never fenced.</summary>
    public Task CommitAsync(string group, string topic, IReadOnlyList<(int Partition, long Offset)> offsets, CancellationToken cancellationToken) =>
        CommitAsync(group, topic, [.. offsets.Select(o => (o.Partition, o.Offset, 0L))], cancellationToken);

    /// <summary>Commits each partition's offset under its lease epoch; answers the partitions refused because a newer lease holds them.</summary>
    public async Task<IReadOnlyList<int>> CommitAsync(
        string group, string topic, IReadOnlyList<(int Partition, long Offset, long Epoch)> offsets, CancellationToken cancellationToken)
    {
        var request = new CommitOffsetsRequest { Group = group, Topic = topic };
        foreach (var (partition, offset, epoch) in offsets)
        {
            request.Offsets.Add(new GroupOffset { Partition = partition, Offset = offset, LeaseEpoch = epoch });
        }
        var response = await _retry.ExecuteAsync(
            static async (state, token) => await state.Storage.CommitOffsetsAsync(state.Request, cancellationToken: token),
            (Storage: _storage, Request: request), cancellationToken);
        return response.FencedPartitions;
    }

    /// <summary>
    /// Batches from <paramref name="offset"/> (the first trimmed to start there), from whichever tier holds them,
    /// without waiting for new ones. OUT_OF_RANGE below the log's start becomes <see cref="OffsetOutOfRangeException"/>.
    /// </summary>
    public async Task<ReadResult> ReadAsync(string topic, int partition, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _retry.ExecuteAsync(
                static async (state, token) => await state.Storage.ReadAsync(
                    new ReadRequest { Topic = state.Topic, Partition = state.Partition, Offset = state.Offset, MaxBytes = state.MaxBytes }, cancellationToken: token),
                (Storage: _storage, Topic: topic, Partition: partition, Offset: offset, MaxBytes: maxBytes), cancellationToken);
            return new ReadResult(response.Batches, response.NextOffset, response.LogStartOffset, response.EndOffset);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.OutOfRange)
        {
            throw await OutOfRangeAsync(ex, topic, partition, offset, cancellationToken);
        }
    }

    /// <summary>The earliest offset whose record is stamped at or after <paramref name="timestamp"/>; the end offset when none is.</summary>
    public async Task<long> FindOffsetAsync(string topic, int partition, long timestamp, CancellationToken cancellationToken)
    {
        var response = await _retry.ExecuteAsync(
            static async (state, token) => await state.Storage.FindOffsetAsync(
                new FindOffsetRequest { Topic = state.Topic, Partition = state.Partition, Timestamp = state.Timestamp }, cancellationToken: token),
            (Storage: _storage, Topic: topic, Partition: partition, Timestamp: timestamp), cancellationToken);
        return response.Offset;
    }

    /// <summary>Appends one batch (a dead-letter record, a replayed batch); answers its base offset.</summary>
    public async Task<long> AppendAsync(string topic, int partition, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        var request = new AppendRequest { Topic = topic, Partition = partition, Batch = UnsafeByteOperations.UnsafeWrap(batch) };
        var response = await _retry.ExecuteAsync(
            static async (state, token) => await state.Storage.AppendAsync(state.Request, cancellationToken: token),
            (Storage: _storage, Request: request), cancellationToken);
        return response.BaseOffset;
    }

    /// <summary>Creates the topic with <paramref name="partitions"/> (and a retention; 0: Storage's default) unless it exists; answers its partition count.</summary>
    /// <summary>Creates the topic unless it exists; <paramref name="onBehalfOf"/> names the user whose create right Storage checks.</summary>
    public async Task<int> EnsureTopicAsync(string topic, int partitions, CancellationToken cancellationToken, long retentionMs = 0, Metadata? onBehalfOf = null)
    {
        var response = await _retry.ExecuteAsync(
            static async (state, token) => await state.Storage.EnsureTopicAsync(
                new EnsureTopicRequest { Topic = state.Topic, Partitions = state.Partitions, RetentionMs = state.RetentionMs }, state.OnBehalfOf, cancellationToken: token),
            (Storage: _storage, Topic: topic, Partitions: partitions, RetentionMs: retentionMs, OnBehalfOf: onBehalfOf), cancellationToken);
        return response.Partitions;
    }
}
