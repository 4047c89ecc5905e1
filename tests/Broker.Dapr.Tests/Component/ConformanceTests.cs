using System.Collections.Concurrent;
using System.Text.Json;
using Broker.Contracts.Dapr.Components;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Reflection.V1Alpha;

namespace Broker.Dapr.Tests.Component;

/// <summary>
/// A harness that drives the pluggable component over its Unix socket as daprd does (discovery by reflection,
/// Init with the YAML's metadata, Features, Ping, Publish and BulkPublish with CloudEvent bytes, PullMessages
/// with one message in flight and an ack or ack_error for each), following the steps of Dapr's pub/sub
/// conformance suite, against the real broker.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ConformanceTests(RedisFixture redis) : IAsyncLifetime
{
    private const string Instance = "pubsub-broker";
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private DaprBroker _broker = null!;
    private ComponentHost _component = null!;
    private PubSub.PubSubClient _pubsub = null!;

    public Task InitializeAsync()
    {
        _broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("conformance"));
        _component = ComponentHost.Start();
        _pubsub = new PubSub.PubSubClient(_component.Channel);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _component.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task The_component_passes_daprds_discovery_init_features_ping_publish_and_subscribe_with_redelivery()
    {
        // Discovery: the socket's services by reflection v1alpha; the PubSub service is what daprd registers as pubsub.broker.
        var reflection = new ServerReflection.ServerReflectionClient(_component.Channel);
        using (var call = reflection.ServerReflectionInfo())
        {
            await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Contains("dapr.proto.components.v1.PubSub", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
        }
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal((UnixFileMode)0b110_110_110, File.GetUnixFileMode(_component.SocketPath) & (UnixFileMode)0b111_111_111);
        }

        await InitAsync(Instance, "conformance");
        var features = await _pubsub.FeaturesAsync(new FeaturesRequest(), ComponentHost.For(Instance));
        Assert.Contains("BULK_PUBSUB", features.Features);
        Assert.Contains("MESSAGE_TTL", features.Features);
        await _pubsub.PingAsync(new PingRequest(), ComponentHost.For(Instance));

        // Subscribe: the handler fails the first 2 new messages and every 5th; failed ones must come again and succeed.
        var topic = $"conformance-{_run}";
        var processed = new ConcurrentDictionary<string, int>();
        var seen = new ConcurrentDictionary<string, byte>();
        var newCount = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var subscriber = SubscribeAsync(topic, message =>
        {
            var isNew = seen.TryAdd(message, 0);
            if (isNew)
            {
                var n = Interlocked.Increment(ref newCount);
                if (n <= 2 || n % 5 == 0)
                {
                    return "simulated failure";
                }
            }
            processed.AddOrUpdate(message, 1, (_, c) => c + 1);
            return null;
        }, stop.Token);
        await Task.Delay(500);

        for (var i = 1; i <= 10; i++)
        {
            await _pubsub.PublishAsync(new PublishRequest { PubsubName = Instance, Topic = topic, Data = Event(topic, Message(i)) }, ComponentHost.For(Instance));
        }
        var bulk = new BulkPublishRequest { PubsubName = Instance, Topic = topic };
        for (var i = 11; i <= 20; i++)
        {
            bulk.Entries.Add(new BulkMessageEntry { EntryId = $"{i}", Event = Event(topic, Message(i)), ContentType = "application/cloudevents+json" });
        }
        var bulkAnswer = await _pubsub.BulkPublishAsync(bulk, ComponentHost.For(Instance));
        Assert.Empty(bulkAnswer.FailedEntries);

        var expected = Enumerable.Range(1, 20).Select(Message).ToHashSet();
        await Wait.UntilAsync(() => expected.IsSubsetOf(processed.Keys), TimeSpan.FromSeconds(60),
            () => $"every message processed; missing {string.Join(", ", expected.Except(processed.Keys))}");
        Assert.True(newCount >= 20);
        await stop.CancelAsync();
        await subscriber;
    }

    [Fact]
    public async Task Two_subscribers_get_exactly_their_topics_messages_and_cancelling_one_leaves_the_other_unaffected()
    {
        await InitAsync(Instance, "multi");
        var topics = new[] { $"multi-a-{_run}", $"multi-b-{_run}" };
        var received = topics.ToDictionary(t => t, _ => new ConcurrentQueue<string>());
        using var stopFirst = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var stopSecond = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var first = SubscribeAsync(topics[0], m => { received[topics[0]].Enqueue(m); return null; }, stopFirst.Token);
        var second = SubscribeAsync(topics[1], m => { received[topics[1]].Enqueue(m); return null; }, stopSecond.Token);
        await Task.Delay(500);

        var sent = topics.ToDictionary(t => t, _ => new List<string>());
        for (var i = 11; i <= 20; i++)
        {
            var topic = topics[i % 2];
            await _pubsub.PublishAsync(new PublishRequest { PubsubName = Instance, Topic = topic, Data = Event(topic, Message(i)) }, ComponentHost.For(Instance));
            sent[topic].Add(Message(i));
        }
        foreach (var topic in topics)
        {
            await Wait.UntilAsync(() => received[topic].Count >= sent[topic].Count, TimeSpan.FromSeconds(60), () => $"{topic}'s messages");
        }
        await Task.Delay(500);
        foreach (var topic in topics)
        {
            // Exactly the set sent to it: nothing from the other topic, no duplicate (no failures, so no redelivery).
            Assert.Equal(sent[topic].Order(), received[topic].Order());
        }

        // Round 2: both still subscribed; round 3: the first cancelled, the second goes on.
        await stopFirst.CancelAsync();
        await first;
        var before = received[topics[1]].Count;
        for (var i = 21; i <= 30; i++)
        {
            foreach (var topic in topics)
            {
                await _pubsub.PublishAsync(new PublishRequest { PubsubName = Instance, Topic = topic, Data = Event(topic, Message(i)) }, ComponentHost.For(Instance));
            }
        }
        await Wait.UntilAsync(() => received[topics[1]].Count >= before + 10, TimeSpan.FromSeconds(60), () => "the second subscriber's round");
        Assert.Equal(Enumerable.Range(21, 10).Select(Message).Order(), received[topics[1]].Skip(before).Order());
        await stopSecond.CancelAsync();
        await second;
    }

    [Fact]
    public async Task Messages_left_unacked_when_the_stream_ends_come_again_on_the_next_stream()
    {
        await InitAsync(Instance, "unacked");
        var topic = $"unacked-{_run}";
        var unanswered = new HashSet<string>();
        using (var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            using var call = _pubsub.PullMessages(ComponentHost.For(Instance, stop.Token));
            await call.RequestStream.WriteAsync(new PullMessagesRequest { Topic = new Topic { Name = topic } }, stop.Token);
            await Task.Delay(500);
            for (var i = 1; i <= 5; i++)
            {
                await _pubsub.PublishAsync(new PublishRequest { PubsubName = Instance, Topic = topic, Data = Event(topic, Message(i)) }, ComponentHost.For(Instance));
            }
            // daprd's side goes away (a sidecar restart) with all five delivered and none answered.
            while (unanswered.Count < 5 && await call.ResponseStream.MoveNext(stop.Token))
            {
                using var cloudEvent = JsonDocument.Parse(call.ResponseStream.Current.Data.Memory);
                unanswered.Add(cloudEvent.RootElement.GetProperty("data").GetString()!);
            }
            await stop.CancelAsync();
        }
        Assert.Equal(Enumerable.Range(1, 5).Select(Message).ToHashSet(), unanswered);

        var again = new ConcurrentDictionary<string, byte>();
        using var stopSecond = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var second = SubscribeAsync(topic, m => { again.TryAdd(m, 0); return null; }, stopSecond.Token);
        await Wait.UntilAsync(() => unanswered.IsSubsetOf(again.Keys), TimeSpan.FromSeconds(30), () => $"redelivered so far: {string.Join(", ", again.Keys)}");
        await stopSecond.CancelAsync();
        await second;
    }

    [Fact]
    public async Task Calls_before_init_and_bad_metadata_are_refused_with_a_status()
    {
        var notInitialised = await Assert.ThrowsAsync<RpcException>(async () =>
            await _pubsub.PublishAsync(new PublishRequest { PubsubName = "other", Topic = "t", Data = ByteString.CopyFromUtf8("{}") }, ComponentHost.For("other")));
        Assert.Equal(StatusCode.FailedPrecondition, notInitialised.StatusCode);
        Assert.Contains("Init", notInitialised.Status.Detail, StringComparison.Ordinal);

        var noConsumer = await Assert.ThrowsAsync<RpcException>(async () =>
            await _pubsub.InitAsync(new PubSubInitRequest { Metadata = new MetadataRequest() }, ComponentHost.For("other")));
        Assert.Equal(StatusCode.InvalidArgument, noConsumer.StatusCode);
        Assert.Contains("consumerID", noConsumer.Status.Detail, StringComparison.Ordinal);

        var request = new PubSubInitRequest { Metadata = new MetadataRequest() };
        request.Metadata.Properties["consumerID"] = "x";
        request.Metadata.Properties["ingestAddress"] = "not a url";
        var badAddress = await Assert.ThrowsAsync<RpcException>(async () => await _pubsub.InitAsync(request, ComponentHost.For("other")));
        Assert.Equal(StatusCode.InvalidArgument, badAddress.StatusCode);
    }

    private async Task InitAsync(string instance, string consumer)
    {
        var init = new PubSubInitRequest { Metadata = new MetadataRequest() };
        init.Metadata.Properties["consumerID"] = consumer;
        init.Metadata.Properties["ingestAddress"] = _broker.IngestGrpc.ToString();
        init.Metadata.Properties["deliveryAddress"] = _broker.DeliveryGrpc.ToString();
        await _pubsub.InitAsync(init, ComponentHost.For(instance));
    }

    /// <summary>A PullMessages stream handled as daprd does since 1.16: one message at a time, each answered with an ack (or ack_error).</summary>
    private async Task SubscribeAsync(string topic, Func<string, string?> handle, CancellationToken cancellationToken)
    {
        using var call = _pubsub.PullMessages(ComponentHost.For(Instance, cancellationToken));
        await call.RequestStream.WriteAsync(new PullMessagesRequest { Topic = new Topic { Name = topic } }, cancellationToken);
        try
        {
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                var message = call.ResponseStream.Current;
                Assert.Equal(topic, message.TopicName);
                using var cloudEvent = JsonDocument.Parse(message.Data.Memory);
                var error = handle(cloudEvent.RootElement.GetProperty("data").GetString()!);
                var ack = new PullMessagesRequest { AckMessageId = message.Id };
                if (error is not null)
                {
                    ack.AckError = new AckMessageError { Message = error };
                }
                await call.RequestStream.WriteAsync(ack, cancellationToken);
            }
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
    }

    private string Message(int n) => $"message-{_run}-{n}";

    /// <summary>What daprd sends as Publish data: the CloudEvent it wrapped around the app's payload.</summary>
    private static ByteString Event(string topic, string data) => ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
    {
        ["specversion"] = "1.0",
        ["id"] = Guid.NewGuid().ToString(),
        ["source"] = "conformance",
        ["type"] = "com.dapr.event.sent",
        ["datacontenttype"] = "text/plain",
        ["topic"] = topic,
        ["pubsubname"] = Instance,
        ["data"] = data,
    }));
}
