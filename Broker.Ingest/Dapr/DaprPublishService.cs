using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Dapr;
using Broker.Contracts.Dapr.Runtime;
using Broker.Contracts.Naming;
using Broker.Contracts.Storage;
using Broker.Ingest.Producing;
using Broker.Ingest.Topics;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Broker.Ingest.Dapr;

/// <summary>
/// Dapr's publish API (<c>dapr.proto.runtime.v1.Dapr</c>: PublishEvent, BulkPublishEvent and
/// BulkPublishEventAlpha1) on Ingest's gRPC endpoint, so an unchanged app's <c>DaprClient</c> with
/// <c>DAPR_GRPC_ENDPOINT</c> pointing here publishes to the broker without a sidecar. Data is wrapped in a
/// CloudEvent as daprd does (unless <c>rawPayload</c>), <c>ttlInSeconds</c> becomes the record's time-to-live,
/// <c>partitionKey</c> its key, and a topic that does not exist is made (Ingest:Dapr). Every other method of
/// Dapr's service answers UNIMPLEMENTED. The pubsub name is carried in the event; the broker is one pub/sub.
/// </summary>
public sealed class DaprPublishService(
    Producer producer, ProduceGate gate, TopicMetadata topics, LogService.LogServiceClient storage, TimeProvider time, IOptions<DaprOptions> options)
    : global::Broker.Contracts.Dapr.Runtime.Dapr.DaprBase
{
    private readonly DaprOptions _options = options.Value;

    public override async Task<Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        Check(request.PubsubName, request.Topic);
        var record = Record(request.Data.Span, request.DataContentType, request.Topic, request.PubsubName, request.Metadata, entryMetadata: null);
        await ProduceAsync(context.GetHttpContext().User, request.Topic, [record], context.CancellationToken);
        return new Empty();
    }

    public override Task<BulkPublishResponse> BulkPublishEventAlpha1(BulkPublishRequest request, ServerCallContext context) =>
        BulkPublishEvent(request, context);

    /// <summary>All entries go in one produce request: all are written, or every one is reported failed with the reason.</summary>
    public override async Task<BulkPublishResponse> BulkPublishEvent(BulkPublishRequest request, ServerCallContext context)
    {
        Check(request.PubsubName, request.Topic);
        if (request.Entries.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "A bulk publish needs at least one entry."));
        }
        var records = request.Entries
            .Select(e => Record(e.Event.Span, e.ContentType, request.Topic, request.PubsubName, request.Metadata, e.Metadata))
            .ToList();
        // As daprd: a topic the caller may not publish to refuses the call itself (PERMISSION_DENIED), not its entries.
        var user = context.GetHttpContext().User;
        Admit(user, request.Topic);
        var response = new BulkPublishResponse();
        try
        {
            await ProduceAsync(user, request.Topic, records, context.CancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            response.FailedEntries.AddRange(request.Entries.Select(e => new BulkPublishResponseFailedEntry { EntryId = e.EntryId, Error = ex.Status.Detail }));
        }
        return response;
    }

    private OutgoingRecord Record(ReadOnlySpan<byte> data, string contentType, string topic, string pubsubName,
        IDictionary<string, string> requestMetadata, IDictionary<string, string>? entryMetadata)
    {
        var metadata = new Dictionary<string, string>(requestMetadata, StringComparer.Ordinal);
        foreach (var (name, given) in entryMetadata ?? new Dictionary<string, string>())
        {
            metadata[name] = given;
        }
        TimeSpan? ttl = null;
        if (metadata.TryGetValue("ttlInSeconds", out var ttlText))
        {
            ttl = int.TryParse(ttlText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : throw new RpcException(new Status(StatusCode.InvalidArgument, $"ttlInSeconds must be a whole number of seconds above 0; got '{ttlText}'."));
        }
        var raw = metadata.TryGetValue("rawPayload", out var rawText) && bool.TryParse(rawText, out var isRaw) && isRaw;
        var value = raw
            ? data.ToArray()
            : CloudEventEnvelope.Wrap(data, contentType, topic, pubsubName, metadata, _options.Source, time.GetUtcNow(), ttl, Activity.Current);
        var headers = new List<RecordHeader>(1);
        if (ttl is { } t)
        {
            headers.Add(new RecordHeader(RecordHeaderNames.TtlMs, Encoding.ASCII.GetBytes(((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture))));
        }
        var key = metadata.TryGetValue("partitionKey", out var partitionKey) ? Encoding.UTF8.GetBytes(partitionKey) : null;
        return new OutgoingRecord(OutgoingRecord.KeyOf(key), value, headers, null, null);
    }

    private async Task ProduceAsync(ClaimsPrincipal user, string topic, IReadOnlyList<OutgoingRecord> records, CancellationToken cancellationToken)
    {
        try
        {
            gate.Admit(user, topic);
            await EnsureTopicAsync(user, topic, cancellationToken);
            gate.Charge(user, records);
            await producer.ProduceAsync(topic, records, identity: null, "dapr", cancellationToken);
        }
        catch (ProduceException ex)
        {
            throw ToRpc(ex);
        }
    }

    private void Admit(ClaimsPrincipal user, string topic)
    {
        try
        {
            gate.Admit(user, topic);
        }
        catch (ProduceException ex)
        {
            throw ToRpc(ex);
        }
    }

    private static RpcException ToRpc(ProduceException ex) => new(new Status(ex.Error switch
    {
        ProduceError.TopicNotFound => StatusCode.NotFound,
        ProduceError.Backpressure => StatusCode.ResourceExhausted,
        ProduceError.Unavailable => StatusCode.Unavailable,
        ProduceError.OutOfOrderSequence => StatusCode.FailedPrecondition,
        ProduceError.Forbidden => StatusCode.PermissionDenied,
        ProduceError.OverQuota => StatusCode.ResourceExhausted,
        _ => StatusCode.InvalidArgument,
    }, ex.Message));

    /// <summary>
    /// Dapr apps never create topics: one that does not exist is made on the first publish, unless that is switched off,
    /// and only for a principal that may create it (Storage checks that, since Ingest asks on the principal's behalf).
    /// </summary>
    private async Task EnsureTopicAsync(ClaimsPrincipal user, string topic, CancellationToken cancellationToken)
    {
        if (await topics.FindAsync(topic, cancellationToken) is not null)
        {
            return;
        }
        if (!_options.CreateTopics)
        {
            throw new RpcException(new Status(StatusCode.NotFound,
                $"Topic '{topic}' does not exist, and Ingest:Dapr:CreateTopics is off: create it first (PUT /v1/topics/{topic} on Storage)."));
        }
        gate.Admit(user, topic, AclOperation.Create);
        await storage.EnsureTopicAsync(new EnsureTopicRequest { Topic = topic, Partitions = _options.TopicPartitions, RetentionMs = _options.TopicRetentionMs },
            OnBehalfOf.Headers(user), cancellationToken: cancellationToken);
        topics.Forget(topic);
    }

    private static void Check(string pubsubName, string topic)
    {
        if (string.IsNullOrEmpty(pubsubName))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "pubsub_name is empty: name the pub/sub component."));
        }
        if (Names.Check(topic) is { } error)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, error));
        }
    }
}
