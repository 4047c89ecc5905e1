using System.Text;
using System.Text.Json;
using Broker.Contracts.Dapr.Runtime;
using Broker.Delivery.Outbound;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace Broker.Delivery.Dapr;

/// <summary>
/// An app serving Dapr's gRPC AppCallback: ListTopicSubscriptions (UNIMPLEMENTED: none), OnTopicEvent per event,
/// and OnBulkTopicEvent for bulk subscriptions (then AppCallbackAlpha's OnBulkTopicEventAlpha1, then one event at a
/// time, as the app implements them). Status SUCCESS, RETRY or DROP; UNIMPLEMENTED is drop; other errors retry.
/// The channel runs over the outbound stack (allowed hosts only, no redirects) and takes messages of up to
/// Delivery:Outbound:MaxResponseBytes.
/// </summary>
internal sealed class GrpcAppChannel : AppChannel
{
    private static readonly JsonParser s_structParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    // The envelope keys that have their own fields; everything else goes in extensions.
    private static readonly HashSet<string> s_ownFields = new(StringComparer.Ordinal)
    {
        "id", "source", "type", "specversion", "datacontenttype", "data", "data_base64",
    };

    private readonly DaprApp _app;
    private readonly GrpcChannel _channel;
    private readonly AppCallback.AppCallbackClient _client;
    private readonly AppCallbackAlpha.AppCallbackAlphaClient _alpha;
    private readonly int _maxReceiveBytes;
    private readonly ILogger _logger;
    private int _bulkMethod; // 0 OnBulkTopicEvent, 1 the alpha, 2 none: one event at a time

    /// <summary>Over <paramref name="handler"/> (the outbound stack, which the channel owns from now on).</summary>
    public GrpcAppChannel(DaprApp app, HttpMessageHandler handler, int maxReceiveBytes, ILogger logger)
    {
        _app = app;
        _maxReceiveBytes = maxReceiveBytes;
        _logger = logger;
        // h2c to http:// addresses; several HTTP/2 connections once one has its stream limit in flight (the stack's
        // SocketsHttpHandler allows that).
        _channel = GrpcChannel.ForAddress(app.Url, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = maxReceiveBytes,
        });
        _client = new AppCallback.AppCallbackClient(_channel);
        _alpha = new AppCallbackAlpha.AppCallbackAlphaClient(_channel);
    }

    public override async Task<IReadOnlyList<AppSubscription>> DiscoverAsync(CancellationToken cancellationToken)
    {
        try
        {
            return AppSubscription.FromGrpc(await _client.ListTopicSubscriptionsAsync(new Empty(), cancellationToken: cancellationToken));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            return [];
        }
        catch (RpcException ex) when (IsTooLarge(ex))
        {
            throw new OutboundException(OutboundErrors.TooLarge("ListTopicSubscriptions", _maxReceiveBytes), ex);
        }
    }

    public override async Task<AppAnswer> DeliverAsync(AppEvent appEvent, string path, AppSubscription subscription, CancellationToken cancellationToken)
    {
        if (appEvent.Parsed is not { } cloudEvent)
        {
            return new AppAnswer(AppStatus.Drop, "the record is not a CloudEvent in JSON");
        }
        var request = new TopicEventRequest
        {
            Id = Text(cloudEvent, "id"),
            Source = Text(cloudEvent, "source"),
            Type = Text(cloudEvent, "type"),
            SpecVersion = Text(cloudEvent, "specversion"),
            DataContentType = Text(cloudEvent, "datacontenttype"),
            Topic = subscription.Topic,
            PubsubName = subscription.PubsubName,
            Path = path,
            Data = DataOf(cloudEvent),
            Extensions = ExtensionsOf(cloudEvent),
        };
        try
        {
            var response = await _client.OnTopicEventAsync(request, Headers(appEvent), cancellationToken: cancellationToken);
            return FromStatus(response.Status, "OnTopicEvent");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            return new AppAnswer(AppStatus.Drop, "OnTopicEvent is not implemented by the app");
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new AppAnswer(AppStatus.Retry, Failed(ex, "OnTopicEvent"));
        }
    }

    public override async Task<AppAnswer[]> DeliverBulkAsync(IReadOnlyList<AppEvent> events, string path, AppSubscription subscription, CancellationToken cancellationToken)
    {
        var request = new TopicEventBulkRequest
        {
            Id = Guid.NewGuid().ToString(),
            Topic = subscription.Topic,
            PubsubName = subscription.PubsubName,
            Type = "com.dapr.event.sent.bulk",
            Path = path,
        };
        foreach (var appEvent in events)
        {
            var entry = new TopicEventBulkRequestEntry { EntryId = appEvent.EntryId, ContentType = "application/cloudevents+json" };
            if (appEvent.Parsed is { } cloudEvent)
            {
                entry.CloudEvent = new TopicEventCERequest
                {
                    Id = Text(cloudEvent, "id"),
                    Source = Text(cloudEvent, "source"),
                    Type = Text(cloudEvent, "type"),
                    SpecVersion = Text(cloudEvent, "specversion"),
                    DataContentType = Text(cloudEvent, "datacontenttype"),
                    Data = DataOf(cloudEvent),
                    Extensions = ExtensionsOf(cloudEvent),
                };
            }
            else
            {
                entry.Bytes = ByteString.CopyFrom(appEvent.CloudEvent.Span);
            }
            request.Entries.Add(entry);
        }
        while (true)
        {
            TopicEventBulkResponse response;
            var method = Volatile.Read(ref _bulkMethod);
            try
            {
                switch (method)
                {
                    case 0:
                        response = await _client.OnBulkTopicEventAsync(request, Headers(events[0]), cancellationToken: cancellationToken);
                        break;
                    case 1:
                        response = await _alpha.OnBulkTopicEventAlpha1Async(request, Headers(events[0]), cancellationToken: cancellationToken);
                        break;
                    default:
                        return await Task.WhenAll(events.Select(e => DeliverAsync(e, path, subscription, cancellationToken)));
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
            {
                Interlocked.CompareExchange(ref _bulkMethod, method + 1, method);
                continue;
            }
            catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
            {
                return [.. Enumerable.Repeat(new AppAnswer(AppStatus.Retry, Failed(ex, "OnBulkTopicEvent")), events.Count)];
            }
            var statuses = response.Statuses.ToDictionary(s => s.EntryId, s => s.Status, StringComparer.Ordinal);
            return [.. events.Select(e => statuses.TryGetValue(e.EntryId, out var status)
                ? FromStatus(status, "OnBulkTopicEvent")
                : new AppAnswer(AppStatus.Retry, "OnBulkTopicEvent gave no status for the entry"))];
        }
    }

    public override void Dispose()
    {
        _channel.Dispose();
        base.Dispose();
    }

    /// <summary>What the nack says about a failed call (no more than the callers may know), with the details logged.</summary>
    private string Failed(RpcException ex, string method)
    {
        var shown = $"{method}: {(IsTooLarge(ex) ? OutboundErrors.TooLarge(method, _maxReceiveBytes) : OutboundErrors.Describe(ex))}";
        OutboundLog.CallFailed(_logger, $"App {_app.AppId}: {method}", OutboundPolicy.Display(_app.Url), shown, OutboundErrors.Details(ex));
        return shown;
    }

    // Grpc.Net.Client's own words when a message is past MaxReceiveMessageSize (it stops at the message's header).
    private static bool IsTooLarge(RpcException ex) =>
        ex.StatusCode == StatusCode.ResourceExhausted && ex.Status.Detail.Contains("exceeds the maximum", StringComparison.OrdinalIgnoreCase);

    private static AppAnswer FromStatus(TopicEventResponse.Types.TopicEventResponseStatus status, string what) => status switch
    {
        TopicEventResponse.Types.TopicEventResponseStatus.Success => AppAnswer.Success,
        TopicEventResponse.Types.TopicEventResponseStatus.Drop => new AppAnswer(AppStatus.Drop, $"{what} answered DROP"),
        TopicEventResponse.Types.TopicEventResponseStatus.Retry => new AppAnswer(AppStatus.Retry, $"{what} answered RETRY"),
        _ => new AppAnswer(AppStatus.Retry, $"{what} answered the unknown status {(int)status}"),
    };

    private static Metadata? Headers(AppEvent appEvent)
    {
        // With a current span, the gRPC client's HTTP handler writes traceparent itself.
        if (System.Diagnostics.Activity.Current is not null || appEvent.TraceParent is null)
        {
            return null;
        }
        var headers = new Metadata { { "traceparent", appEvent.TraceParent } };
        if (appEvent.TraceState is { } traceState)
        {
            headers.Add("tracestate", traceState);
        }
        return headers;
    }

    private static string Text(JsonElement cloudEvent, string name) =>
        cloudEvent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    /// <summary>
    /// The data as daprd hands it to gRPC apps: data_base64 decoded; a string as its text for text content types;
    /// anything else as its JSON text.
    /// </summary>
    private static ByteString DataOf(JsonElement cloudEvent)
    {
        if (cloudEvent.TryGetProperty("data_base64", out var base64) && base64.ValueKind == JsonValueKind.String && base64.TryGetBytesFromBase64(out var bytes))
        {
            return UnsafeByteOperations.UnsafeWrap(bytes);
        }
        if (!cloudEvent.TryGetProperty("data", out var data) || data.ValueKind == JsonValueKind.Null)
        {
            return ByteString.Empty;
        }
        var contentType = Text(cloudEvent, "datacontenttype");
        var isJson = contentType.Contains("json", StringComparison.OrdinalIgnoreCase);
        return data.ValueKind == JsonValueKind.String && !isJson
            ? ByteString.CopyFromUtf8(data.GetString()!)
            : UnsafeByteOperations.UnsafeWrap(Encoding.UTF8.GetBytes(data.GetRawText()));
    }

    private static Struct ExtensionsOf(JsonElement cloudEvent)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in cloudEvent.EnumerateObject())
            {
                if (!s_ownFields.Contains(property.Name))
                {
                    property.WriteTo(writer);
                }
            }
            writer.WriteEndObject();
        }
        return s_structParser.Parse<Struct>(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
