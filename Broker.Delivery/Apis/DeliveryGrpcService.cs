using System.Threading.Channels;
using Broker.Contracts.Delivery;
using Broker.Contracts.Naming;
using Broker.Delivery.Consuming;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Quotas;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RecordHeader = Broker.Contracts.Batches.RecordHeader;

namespace Broker.Delivery.Apis;

/// <summary>
/// The gRPC consumer stream: one stream is one consumer of a group. Records go out as the window allows
/// (several per message), acks, nacks and window changes come in; an ack the service cannot take is
/// answered with an AckError and the stream goes on. When the stream ends, for whatever reason, the consumer
/// leaves its group: what it settled is committed, what it had not acked goes to the next owner.
/// </summary>
internal sealed class DeliveryGrpcService(
    GroupSessions sessions, Dapr.DaprTopics daprTopics, AccessControl access, ClientQuotas quotas, IOptions<DeliveryOptions> options, ILogger<DeliveryGrpcService> logger)
    : DeliveryService.DeliveryServiceBase
{
    /// <summary>Records in one response message at most, and about this many value bytes (a record may exceed it alone).</summary>
    private const int MaxRecordsPerMessage = 500;
    private const long MaxBytesPerMessage = 1024 * 1024;

    public override async Task Subscribe(IAsyncStreamReader<SubscribeRequest> requestStream, IServerStreamWriter<SubscribeResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        if (!await requestStream.MoveNext(cancellationToken))
        {
            return;
        }
        if (requestStream.Current.KindCase != SubscribeRequest.KindOneofCase.Subscribe)
        {
            throw Refuse(StatusCode.InvalidArgument, "The first message of a subscribe stream must be `subscribe`.");
        }
        var subscribe = requestStream.Current.Subscribe;
        var o = options.Value;
        var errors = SubscriptionRules.Check(subscribe.Group, subscribe.Topic, subscribe.Window,
            subscribe.AckTimeoutMs == 0 ? null : subscribe.AckTimeoutMs, subscribe.ConsumerName, o);
        if (errors.Count > 0)
        {
            throw Refuse(StatusCode.InvalidArgument, string.Join(" ", errors.Values.SelectMany(m => m)));
        }
        // Kafka's consumer rights: read on the group and read on the topic (create too, for a topic made on demand, checked by Storage).
        var user = context.GetHttpContext().User;
        Rights(user, subscribe.Group, subscribe.Topic);
        var spec = SubscriptionRules.Spec(subscribe.Group, subscribe.Topic, subscribe.Window, subscribe.Mode, subscribe.Start,
            subscribe.AckTimeoutMs == 0 ? null : subscribe.AckTimeoutMs, subscribe.ConsumerName, o);
        if (subscribe.CreateTopic)
        {
            await daprTopics.EnsureAsync(subscribe.Topic, user.Identity?.IsAuthenticated == true ? user.Name() : null, cancellationToken);
        }
        var member = await sessions.JoinAsync(spec, cancellationToken);

        // Assignment changes and ack errors, written between record messages by the one writer.
        var control = Channel.CreateBounded<SubscribeResponse>(new BoundedChannelOptions(10_000)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        member.AssignmentChanged += partitions =>
        {
            var assignment = new Assignment { MemberId = member.Id };
            assignment.Partitions.AddRange(partitions);
            control.Writer.TryWrite(new SubscribeResponse { Assignment = assignment });
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, member.Gone);
        // Rights are asked again before every message, so a revoked ACL ends the stream within one message (as Kafka checks each fetch).
        var stillAllowed = () => Rights(user, subscribe.Group, subscribe.Topic);
        var writing = WriteAsync(member, control.Reader, responseStream, new FetchQuota(quotas, user), stillAllowed, stop.Token);
        var reading = ReadAsync(member, requestStream, control.Writer, stop.Token);
        try
        {
            await Task.WhenAny(writing, reading);
        }
        finally
        {
            await sessions.LeaveAsync(member);
            await stop.CancelAsync();
            await Task.WhenAll(Quietly(writing), Quietly(reading));
        }
        if (member.Failure is RpcException failure)
        {
            throw failure;
        }
        if (reading.IsFaulted && reading.Exception!.InnerException is RpcException refused)
        {
            throw refused;
        }
        if (writing.IsFaulted && writing.Exception!.InnerException is RpcException revoked)
        {
            throw revoked;
        }
    }

    private async Task ReadAsync(ConsumerMember member, IAsyncStreamReader<SubscribeRequest> requests, ChannelWriter<SubscribeResponse> control, CancellationToken cancellationToken)
    {
        while (await requests.MoveNext(cancellationToken))
        {
            var request = requests.Current;
            switch (request.KindCase)
            {
                case SubscribeRequest.KindOneofCase.Acks:
                    foreach (var id in request.Acks.Ack)
                    {
                        Report(member, member.Ack(id), id, control);
                    }
                    foreach (var nack in request.Acks.Nack)
                    {
                        Report(member, member.Nack(nack.DeliveryId, nack.Error), nack.DeliveryId, control);
                    }
                    foreach (var id in request.Acks.Extend)
                    {
                        Report(member, member.Extend(id), id, control);
                    }
                    break;
                case SubscribeRequest.KindOneofCase.SetWindow:
                    var window = request.SetWindow.Window;
                    if (window < 1 || window > options.Value.MaxWindow)
                    {
                        throw Refuse(StatusCode.InvalidArgument,
                            $"window must be between 1 and {options.Value.MaxWindow} (Delivery:MaxWindow) records in flight; got {window}.");
                    }
                    member.Window = window;
                    break;
                default:
                    throw Refuse(StatusCode.InvalidArgument, "A subscribe stream is subscribed once; later messages are `acks` or `set_window`.");
            }
        }
    }

    private void Report(ConsumerMember member, AckResult result, string deliveryId, ChannelWriter<SubscribeResponse> control)
    {
        if (result.Ok)
        {
            return;
        }
        DeliveryLog.Refused(logger, "ack", result.Error!);
        control.TryWrite(new SubscribeResponse
        {
            AckError = new AckError
            {
                // Ids this service issues are short: a longer one is echoed only in part, so queued errors stay small.
                DeliveryId = Names.Quote(deliveryId),
                StatusCode = (int)(result.Malformed ? StatusCode.InvalidArgument : StatusCode.NotFound),
                Message = result.Error,
            },
        });
        // The writer sleeps until woken: a control message is a reason to wake it.
        member.Wake();
    }

    /// <summary>Throws PERMISSION_DENIED unless the principal may read the group and the topic.</summary>
    private bool Rights(System.Security.Claims.ClaimsPrincipal user, string group, string topic)
    {
        access.Demand(user, AclResourceType.Group, group, AclOperation.Read);
        access.Demand(user, AclResourceType.Topic, topic, AclOperation.Read);
        return true;
    }

    private static async Task WriteAsync(
        ConsumerMember member, ChannelReader<SubscribeResponse> control, IServerStreamWriter<SubscribeResponse> responses, FetchQuota quota,
        Func<bool> stillAllowed, CancellationToken cancellationToken)
    {
        var taken = new List<Delivered>(MaxRecordsPerMessage);
        while (!cancellationToken.IsCancellationRequested && member.Failure is null && stillAllowed())
        {
            while (control.TryRead(out var message))
            {
                await responses.WriteAsync(message, cancellationToken);
            }
            // Over its fetch quota, the consumer is held back (as Kafka throttles a fetch) rather than refused: the stream goes on.
            await quota.ThrottleAsync(cancellationToken);
            taken.Clear();
            if (member.Take(MaxRecordsPerMessage, quota.MaxBytes(MaxBytesPerMessage), taken) > 0)
            {
                await responses.WriteAsync(ToResponse(taken), cancellationToken);
                quota.Charge(taken);
                continue;
            }
            // Every change that can make a record deliverable (fetch, ack, retry due, window, assignment) wakes it.
            await member.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
        }
    }

    private static SubscribeResponse ToResponse(List<Delivered> deliveries)
    {
        var records = new Records();
        foreach (var delivery in deliveries)
        {
            var record = delivery.Record;
            // The batch bytes behind key and value are never written to: wrapping them copies nothing.
            var message = new DeliveredRecord
            {
                DeliveryId = delivery.DeliveryId,
                Partition = record.Partition,
                Offset = record.Offset,
                Value = UnsafeByteOperations.UnsafeWrap(record.Value),
                TimestampMs = record.Timestamp,
                Attempt = delivery.Attempt,
            };
            if (record.Key is { } key)
            {
                message.Key = UnsafeByteOperations.UnsafeWrap(key);
            }
            foreach (var header in delivery.Headers)
            {
                message.Headers.Add(ToHeader(header));
            }
            records.Records_.Add(message);
        }
        return new SubscribeResponse { Records = records };
    }

    private static Header ToHeader(RecordHeader header) => new() { Name = header.Name, Value = UnsafeByteOperations.UnsafeWrap(header.Value) };

    private RpcException Refuse(StatusCode status, string message)
    {
        DeliveryLog.Refused(logger, "subscribe", message);
        return new RpcException(new Status(status, message));
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
            // The stream is over either way; its status is decided by the caller.
        }
    }
}
