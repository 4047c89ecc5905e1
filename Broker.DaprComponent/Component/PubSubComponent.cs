using Broker.Contracts.Dapr.Components;
using Broker.ServiceDefaults.Security.Tls;
using Grpc.Core;
using RuntimeBulkEntry = Broker.Contracts.Dapr.Runtime.BulkPublishRequestEntry;
using RuntimeBulkRequest = Broker.Contracts.Dapr.Runtime.BulkPublishRequest;
using RuntimePublishRequest = Broker.Contracts.Dapr.Runtime.PublishEventRequest;

namespace Broker.DaprComponent.Component;

/// <summary>
/// <c>dapr.proto.components.v1.PubSub</c> as daprd calls it. Init keeps the instance's metadata (Ingest and
/// Delivery addresses, consumerID as the consumer group); Publish and BulkPublish go to Ingest's Dapr API with
/// the bytes as they are (daprd made the CloudEvent); PullMessages is one Delivery subscription per stream, its
/// acks and ack errors forwarded as acks and nacks (a nack is redelivered under the topic's retry policy, then
/// dead-lettered). Errors are gRPC statuses with a message, so daprd's resiliency policy sees them.
/// </summary>
internal sealed class PubSubComponent(ComponentInstances instances, ComponentOptions options, IConfiguration configuration, TlsTrust tls, ILoggerFactory loggers)
    : PubSub.PubSubBase
{
    /// <summary>What daprd learns from Features: batched publishes, and that the broker enforces time-to-live (ttlInSeconds) itself.</summary>
    public static readonly string[] Supported = ["BULK_PUBSUB", "MESSAGE_TTL"];

    private readonly ILogger _logger = loggers.CreateLogger("Broker.DaprComponent");

    public override Task<PubSubInitResponse> Init(PubSubInitRequest request, ServerCallContext context)
    {
        var name = ComponentInstances.NameOf(context);
        try
        {
            var instance = new ComponentInstance(name, request.Metadata?.Properties ?? new Google.Protobuf.Collections.MapField<string, string>(), options, configuration, tls);
            instances.Set(instance);
            ComponentLog.Initialised(_logger, name, instance.ConsumerId, instance.IngestAddress, instance.DeliveryAddress);
        }
        catch (ArgumentException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        return Task.FromResult(new PubSubInitResponse());
    }

    public override Task<FeaturesResponse> Features(FeaturesRequest request, ServerCallContext context) =>
        Task.FromResult(new FeaturesResponse { Features = { Supported } });

    public override async Task<PublishResponse> Publish(PublishRequest request, ServerCallContext context)
    {
        var instance = instances.Get(context);
        var forward = new RuntimePublishRequest { PubsubName = request.PubsubName, Topic = request.Topic, Data = request.Data, DataContentType = request.ContentType };
        forward.Metadata.Add(request.Metadata);
        forward.Metadata["rawPayload"] = "true";
        await Forward(() => instance.Ingest.PublishEventAsync(forward, cancellationToken: context.CancellationToken).ResponseAsync);
        return new PublishResponse();
    }

    public override async Task<BulkPublishResponse> BulkPublish(BulkPublishRequest request, ServerCallContext context)
    {
        var instance = instances.Get(context);
        var forward = new RuntimeBulkRequest { PubsubName = request.PubsubName, Topic = request.Topic };
        forward.Metadata.Add(request.Metadata);
        forward.Metadata["rawPayload"] = "true";
        foreach (var entry in request.Entries)
        {
            var copy = new RuntimeBulkEntry { EntryId = entry.EntryId, Event = entry.Event, ContentType = entry.ContentType };
            copy.Metadata.Add(entry.Metadata);
            forward.Entries.Add(copy);
        }
        var answer = await Forward(() => instance.Ingest.BulkPublishEventAsync(forward, cancellationToken: context.CancellationToken).ResponseAsync);
        var response = new BulkPublishResponse();
        response.FailedEntries.AddRange(answer.FailedEntries.Select(f => new BulkPublishResponseFailedEntry { EntryId = f.EntryId, Error = f.Error }));
        return response;
    }

    public override async Task PullMessages(IAsyncStreamReader<PullMessagesRequest> requestStream, IServerStreamWriter<PullMessagesResponse> responseStream, ServerCallContext context)
    {
        var instance = instances.Get(context);
        if (!await requestStream.MoveNext(context.CancellationToken) || requestStream.Current.Topic is not { Name.Length: > 0 } topic)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The first message of PullMessages names the topic."));
        }
        StartPositionCheck(topic);
        using var subscription = new Subscription(instance, topic, requestStream, responseStream, _logger);
        await subscription.RunAsync(context.CancellationToken);
    }

    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context) => Task.FromResult(new PingResponse());

    public override Task<PauseResponse> Pause(PauseRequest request, ServerCallContext context)
    {
        instances.Get(context).Pause();
        return Task.FromResult(new PauseResponse());
    }

    public override Task<ResumeResponse> Resume(ResumeRequest request, ServerCallContext context)
    {
        instances.Get(context).Resume();
        return Task.FromResult(new ResumeResponse());
    }

    private static void StartPositionCheck(Topic topic)
    {
        try
        {
            ComponentInstance.StartOf(topic.Metadata, Broker.Contracts.Delivery.StartPosition.Earliest);
        }
        catch (ArgumentException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
    }

    /// <summary>Ingest's refusal goes back to daprd with its code and message; a broker out of reach is UNAVAILABLE.</summary>
    private static async Task<T> Forward<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled)
        {
            throw new RpcException(new Status(ex.StatusCode, $"The broker's Ingest refused the publish: {ex.Status.Detail}"));
        }
    }
}
