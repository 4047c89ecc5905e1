using System.Threading.Channels;
using Broker.Contracts.Storage;
using Broker.ServiceDefaults.Security.Acls;
using Broker.Storage.Groups;
using Broker.Storage.Log;
using Broker.Storage.Topics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Apis;

/// <summary>
/// The log's gRPC API (storage.proto). Refusals become gRPC statuses in <see cref="LogExceptionInterceptor"/>. Meant
/// for the broker's services (the service key may do anything, or acts as the user it names); any other principal
/// is held to its ACLs on every call: write to append, read to read, describe to describe, create to make a topic,
/// group read (and topic read) to commit offsets.
/// </summary>
public sealed class LogGrpcService(
    PartitionLog log, TopicRegistry topics, IGroupOffsetStore groups, TailStreams tails, AccessControl access, IOptions<StorageOptions> options,
    ILogger<LogGrpcService> logger)
    : LogService.LogServiceBase
{
    private readonly StorageOptions _options = options.Value;

    public override async Task<AppendResponse> Append(AppendRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Write);
        var result = await log.AppendAsync(request.Topic, request.Partition, request.Batch.Memory, context.CancellationToken);
        return new AppendResponse
        {
            BaseOffset = result.BaseOffset,
            RecordCount = result.RecordCount,
            Duplicate = result.Duplicate,
            EndOffset = result.EndOffset,
        };
    }

    /// <summary>
    /// Appends as requests arrive, each on its own (the client orders a partition's batches by keeping one in
    /// flight), answering each as it completes through one writer. When the client ends the stream, the
    /// appends under way are answered before the stream closes. At most Storage:MaxAppendsInFlightPerStream are
    /// taken and not yet answered: past that the stream is not read (HTTP/2 flow control holds the client back),
    /// so neither the appends nor the answers waiting for a client that does not read grow without bound.
    /// </summary>
    public override async Task AppendStream(IAsyncStreamReader<AppendRequest> requestStream, IServerStreamWriter<AppendResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var user = context.GetHttpContext().User;
        // Never disposed: the writer may still release it after this method has left on cancellation (it holds no handle).
        var room = new SemaphoreSlim(_options.MaxAppendsInFlightPerStream);
        var answers = Channel.CreateUnbounded<AppendResponse>(new UnboundedChannelOptions { SingleReader = true });
        var writing = WriteAnswersAsync(answers.Reader, responseStream, room, cancellationToken);
        var underWay = new UnderWay();
        try
        {
            while (true)
            {
                await room.WaitAsync(cancellationToken);
                if (!await requestStream.MoveNext(cancellationToken))
                {
                    break;
                }
                var request = requestStream.Current;
                if (access.Decide(user, AclResourceType.Topic, request.Topic, AclOperation.Write) is { Allowed: false } refused)
                {
                    // Answered like any other refusal: the writer gives its room back.
                    answers.Writer.TryWrite(new AppendResponse
                    {
                        RequestId = request.RequestId,
                        StatusCode = (int)(refused.Outcome == AccessOutcome.Denied ? StatusCode.PermissionDenied : StatusCode.Unavailable),
                        StatusMessage = refused.Message,
                    });
                    continue;
                }
                underWay.Add();
                _ = AppendOneAsync(request, answers.Writer, underWay, context);
            }
        }
        finally
        {
            underWay.Done();
            await underWay.Drained.WaitAsync(cancellationToken);
            answers.Writer.TryComplete();
        }
        await writing;
    }

    private async Task AppendOneAsync(AppendRequest request, ChannelWriter<AppendResponse> answers, UnderWay underWay, ServerCallContext context)
    {
        AppendResponse answer;
        try
        {
            var result = await log.AppendAsync(request.Topic, request.Partition, request.Batch.Memory, context.CancellationToken);
            answer = new AppendResponse
            {
                BaseOffset = result.BaseOffset,
                RecordCount = result.RecordCount,
                Duplicate = result.Duplicate,
                EndOffset = result.EndOffset,
            };
        }
        catch (Exception ex)
        {
            var status = LogExceptionInterceptor.StatusOf(ex, context.Method, logger)
                ?? new Status(StatusCode.Internal, "The append failed: " + ex.Message);
            answer = new AppendResponse { StatusCode = (int)status.StatusCode, StatusMessage = status.Detail };
        }
        answer.RequestId = request.RequestId;
        answers.TryWrite(answer);
        underWay.Done();
    }

    /// <summary>Appends under way on a stream, plus one for the stream itself: drained once both are done.</summary>
    private sealed class UnderWay
    {
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count = 1;

        public Task Drained => _drained.Task;

        public void Add() => Interlocked.Increment(ref _count);

        public void Done()
        {
            if (Interlocked.Decrement(ref _count) == 0)
            {
                _drained.TrySetResult();
            }
        }
    }

    private static async Task WriteAnswersAsync(
        ChannelReader<AppendResponse> answers, IServerStreamWriter<AppendResponse> responses, SemaphoreSlim room, CancellationToken cancellationToken)
    {
        await foreach (var answer in answers.ReadAllAsync(cancellationToken))
        {
            await responses.WriteAsync(answer, cancellationToken);
            room.Release();
        }
    }

    public override async Task<ReadResponse> Read(ReadRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
        var result = await log.ReadAsync(request.Topic, request.Partition, request.Offset, request.MaxBytes,
            TimeSpan.FromMilliseconds(request.MaxWaitMs), context.CancellationToken);
        return ToResponse(result);
    }

    public override async Task Tail(TailRequest request, IServerStreamWriter<ReadResponse> responseStream, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
        using var place = tails.Enter();
        var offset = request.Offset;
        var cancellationToken = context.CancellationToken;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Each read waits (long poll, Storage's longest wait) for the next append; an empty answer only means the wait ran out.
            var result = await log.ReadAsync(request.Topic, request.Partition, offset, request.MaxBytes, TimeSpan.MaxValue, cancellationToken);
            if (result.Batches.Count == 0)
            {
                continue;
            }
            // Asked again before every answer: a revoked right ends the stream (as Kafka checks each fetch).
            access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
            await responseStream.WriteAsync(ToResponse(result), cancellationToken);
            offset = result.NextOffset;
        }
    }

    private static ReadResponse ToResponse(ReadResult result)
    {
        var response = new ReadResponse
        {
            NextOffset = result.NextOffset,
            LogStartOffset = result.LogStartOffset,
            EndOffset = result.EndOffset,
        };
        foreach (var batch in result.Batches)
        {
            // The batches' memory is never changed after this (fresh arrays, or immutable cached chunks): no copy.
            response.Batches.Add(UnsafeByteOperations.UnsafeWrap(batch));
        }
        return response;
    }

    public override async Task<WaitForDataResponse> WaitForData(WaitForDataRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
        var (end, hasData) = await log.WaitForDataAsync(request.Topic, request.Partition, request.Offset,
            TimeSpan.FromMilliseconds(request.MaxWaitMs), context.CancellationToken);
        return new WaitForDataResponse { EndOffset = end, HasData = hasData };
    }

    public override async Task<FindOffsetResponse> FindOffset(FindOffsetRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Describe);
        var (offset, timestamp, found) = await log.FindOffsetAsync(request.Topic, request.Partition, request.Timestamp, context.CancellationToken);
        return new FindOffsetResponse { Offset = offset, Timestamp = timestamp, Found = found };
    }

    public override async Task<DescribeTopicResponse> DescribeTopic(DescribeTopicRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Describe);
        var (topic, partitions) = await log.DescribeAsync(request.Topic, context.CancellationToken);
        var response = new DescribeTopicResponse
        {
            Topic = topic.Name,
            Compression = topic.Compression.ToString().ToLowerInvariant(),
            SchemaSubject = topic.EffectiveSchemaSubject ?? "",
            MaxDeliveryAttempts = topic.MaxDeliveryAttempts,
            DeadLetterTopic = topic.EffectiveDeadLetterTopic,
            MessageTtlMs = topic.MessageTtlMs,
        };
        foreach (var p in partitions)
        {
            response.Partitions.Add(new PartitionOffsets
            {
                Partition = p.Partition,
                StartOffset = p.LogStartOffset,
                HotStartOffset = p.StartOffset,
                EndOffset = p.EndOffset,
                HotBytes = p.Bytes,
                ColdBytes = p.ColdBytes,
            });
        }
        return response;
    }

    public override async Task<EnsureTopicResponse> EnsureTopic(EnsureTopicRequest request, ServerCallContext context)
    {
        var existing = TopicValidation.CheckName(request.Topic) is null ? await topics.FindAsync(request.Topic, context.CancellationToken) : null;
        access.Demand(context, AclResourceType.Topic, request.Topic, existing is null ? AclOperation.Create : AclOperation.Describe);
        if (existing is not null)
        {
            return new EnsureTopicResponse { Created = false, Partitions = existing.Partitions };
        }
        var spec = new TopicSpec { Partitions = request.Partitions == 0 ? 1 : request.Partitions, RetentionMs = request.RetentionMs == 0 ? null : request.RetentionMs };
        var errors = TopicValidation.Check(request.Topic, spec);
        if (errors.Count > 0)
        {
            throw new LogException(LogError.InvalidArgument, string.Join(" ", errors.Values.SelectMany(m => m)));
        }
        var (topic, created) = await topics.CreateIfMissingAsync(request.Topic, spec, context.CancellationToken);
        return new EnsureTopicResponse { Created = created, Partitions = topic.Partitions };
    }

    public override async Task<CommitOffsetsResponse> CommitOffsets(CommitOffsetsRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Group, request.Group, AclOperation.Read);
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
        var topic = await CheckGroupAndTopic(request.Group, request.Topic, context.CancellationToken);
        var offsets = new List<CommittedOffset>(request.Offsets.Count);
        foreach (var o in request.Offsets)
        {
            CheckPartition(topic, o.Partition);
            if (System.Text.Encoding.UTF8.GetByteCount(o.Metadata) > _options.MaxOffsetMetadataBytes)
            {
                throw new LogException(LogError.InvalidArgument,
                    $"The metadata committed for partition {o.Partition} is {System.Text.Encoding.UTF8.GetByteCount(o.Metadata)} bytes; "
                    + $"the limit (Storage:MaxOffsetMetadataBytes) is {_options.MaxOffsetMetadataBytes}.");
            }
            if (o.Offset < 0)
            {
                throw new LogException(LogError.InvalidArgument, $"A committed offset is 0 or more; got {o.Offset} for partition {o.Partition}.");
            }
            if (o.LeaseEpoch < 0)
            {
                throw new LogException(LogError.InvalidArgument, $"A lease epoch is 0 or more; got {o.LeaseEpoch} for partition {o.Partition}.");
            }
            offsets.Add(new CommittedOffset(o.Partition, o.Offset, o.Metadata, o.LeaseEpoch));
        }
        var response = new CommitOffsetsResponse();
        response.FencedPartitions.AddRange(await groups.CommitAsync(request.Group, topic, offsets, context.CancellationToken));
        return response;
    }

    public override async Task<FetchOffsetsResponse> FetchOffsets(FetchOffsetsRequest request, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Group, request.Group, AclOperation.Describe);
        access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Describe);
        var topic = await CheckGroupAndTopic(request.Group, request.Topic, context.CancellationToken);
        var fence = new List<PartitionEpoch>(request.Fence.Count);
        if (request.Fence.Count > 0)
        {
            // Raising epochs changes what later commits may do: the right to commit (read on the group and topic) is needed.
            access.Demand(context, AclResourceType.Group, request.Group, AclOperation.Read);
            access.Demand(context, AclResourceType.Topic, request.Topic, AclOperation.Read);
            foreach (var f in request.Fence)
            {
                CheckPartition(topic, f.Partition);
                if (f.LeaseEpoch <= 0)
                {
                    throw new LogException(LogError.InvalidArgument, $"A fence names a lease epoch above 0; got {f.LeaseEpoch} for partition {f.Partition}.");
                }
                fence.Add(new PartitionEpoch(f.Partition, f.LeaseEpoch));
            }
        }
        var (offsets, fenced) = await groups.FetchAsync(request.Group, topic, fence, context.CancellationToken);
        var committed = offsets.ToDictionary(o => o.Partition);
        var response = new FetchOffsetsResponse();
        for (var p = 0; p < topic.Partitions; p++)
        {
            response.Offsets.Add(committed.TryGetValue(p, out var c)
                ? new GroupOffset { Partition = p, Offset = c.Offset, Metadata = c.Metadata, LeaseEpoch = c.LeaseEpoch }
                : new GroupOffset { Partition = p, Offset = -1 });
        }
        response.FencedPartitions.AddRange(fenced);
        return response;
    }

    private static void CheckPartition(TopicConfig topic, int partition)
    {
        if (partition < 0 || partition >= topic.Partitions)
        {
            throw new LogException(LogError.PartitionNotFound,
                $"Topic '{topic.Name}' has partitions 0 to {topic.Partitions - 1}; there is no partition {partition}.");
        }
    }

    private async Task<TopicConfig> CheckGroupAndTopic(string group, string topic, CancellationToken cancellationToken)
    {
        if (TopicValidation.CheckName(group, "group") is { } error)
        {
            throw new LogException(LogError.InvalidArgument, error);
        }
        return await topics.GetAsync(topic, cancellationToken);
    }
}
