using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Dapr.Client;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Broker.Dapr.Tests.Apps;

/// <summary>
/// A gRPC Dapr app: it implements AppCallback.AppCallbackBase from Dapr.Protos (as the SDKs' gRPC apps do) on its
/// own Kestrel port, and Delivery calls ListTopicSubscriptions, OnTopicEvent and OnBulkTopicEvent as daprd would.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SidecarlessGrpcTests(RedisFixture redis) : IAsyncLifetime
{
    private const string AppId = "grpc-app";
    private readonly Callback _callback = new();
    private DaprBroker _broker = null!;
    private WebApplication _app = null!;
    private HttpClient _delivery = null!;
    private Uri _appUrl = null!;

    public async Task InitializeAsync()
    {
        _broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("grpcapp"));
        _delivery = new HttpClient { BaseAddress = _broker.DeliveryHttp };
        _appUrl = new Uri($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        // Not the test folder's appsettings.json (a service's, copied there by the build): its Kestrel endpoints would be bound too.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, _appUrl.Port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_callback);
        _app = builder.Build();
        _app.MapGrpcService<Callback>();
        await _app.StartAsync();
        using var declared = await _delivery.PutAsJsonAsync($"/v1/apps/{AppId}", new { url = _appUrl, protocol = "grpc" });
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _delivery.Dispose();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task OnTopicEvent_gets_each_event_with_its_CloudEvent_fields_and_RETRY_and_DROP_behave_as_in_daprd()
    {
        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(_broker.IngestGrpc.ToString()).Build();
        for (var i = 1; i <= 10; i++)
        {
            await dapr.PublishEventAsync("pubsub", "grpc-orders", new { id = i, kind = i == 3 ? "retry" : i == 7 ? "drop" : "plain" });
        }

        await Wait.UntilAsync(() => _callback.Events.Keys.Count(k => k.Topic == "grpc-orders") == 10 && _callback.Events.GetValueOrDefault(("grpc-orders", 3)) >= 2,
            TimeSpan.FromSeconds(60), () => $"events so far: {string.Join(", ", _callback.Events.Select(e => $"{e.Key}×{e.Value}"))}");
        var first = _callback.Requests.First(r => r.Topic == "grpc-orders");
        Assert.Equal("pubsub", first.PubsubName);
        Assert.Equal("/orders", first.Path);
        Assert.Equal("com.dapr.event.sent", first.Type);
        Assert.Equal("1.0", first.SpecVersion);
        Assert.Equal("application/json", first.DataContentType);
        Assert.False(string.IsNullOrEmpty(first.Id));
        Assert.True(first.Extensions.Fields.ContainsKey("topic"));
        Assert.False(first.Extensions.Fields.ContainsKey("data"));
        using (var data = JsonDocument.Parse(first.Data.Memory))
        {
            Assert.True(data.RootElement.TryGetProperty("id", out _));
        }

        // DROP: once, then into the subscription's dead-letter topic.
        Assert.Equal(1, _callback.Events[("grpc-orders", 7)]);
        await Wait.UntilAsync(() => _callback.Events.ContainsKey(("grpc-dead", 7)), TimeSpan.FromSeconds(30), () => "the dropped event on the dead-letter topic");
        var dead = await _broker.ReadAllAsync("grpc-dead");
        Assert.Single(dead);
        Assert.Contains("DROP", Encoding.UTF8.GetString(dead[0].Headers.First(h => h.Name == "dlq.error").Value.Span));
    }

    [Fact]
    public async Task Bulk_subscriptions_get_OnBulkTopicEvent_with_a_status_per_entry()
    {
        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(_broker.IngestGrpc.ToString()).Build();
        var published = await dapr.BulkPublishEventAsync("pubsub", "grpc-bulk", Enumerable.Range(1, 25).Select(i => new { id = i, kind = i % 4 == 0 ? "retry" : "plain" }).ToList());
        Assert.Empty(published.FailedEntries);

        await Wait.UntilAsync(() => Enumerable.Range(1, 25).All(i => _callback.Events.GetValueOrDefault(("grpc-bulk", i)) >= (i % 4 == 0 ? 2 : 1)),
            TimeSpan.FromSeconds(60), () => $"events so far: {string.Join(", ", _callback.Events.Where(e => e.Key.Topic == "grpc-bulk").Select(e => $"{e.Key.Id}×{e.Value}"))}");
        Assert.All(Enumerable.Range(1, 25).Where(i => i % 4 != 0), i => Assert.Equal(1, _callback.Events[("grpc-bulk", i)]));
        Assert.NotEmpty(_callback.BulkSizes);
        Assert.All(_callback.BulkSizes, size => Assert.InRange(size, 1, 8));
        Assert.Contains(_callback.BulkSizes, size => size > 1);
    }

    /// <summary>The app: three subscriptions; "retry" events answer RETRY the first time, "drop" events DROP.</summary>
    public sealed class Callback : AppCallback.AppCallbackBase
    {
        public ConcurrentDictionary<(string Topic, int Id), int> Events { get; } = new();

        public ConcurrentQueue<TopicEventRequest> Requests { get; } = new();

        public ConcurrentQueue<int> BulkSizes { get; } = new();

        public override Task<ListTopicSubscriptionsResponse> ListTopicSubscriptions(Empty request, ServerCallContext context)
        {
            var response = new ListTopicSubscriptionsResponse();
            response.Subscriptions.Add(new TopicSubscription
            {
                PubsubName = "pubsub",
                Topic = "grpc-orders",
                Routes = new TopicRoutes { Default = "/orders" },
                DeadLetterTopic = "grpc-dead",
            });
            response.Subscriptions.Add(new TopicSubscription { PubsubName = "pubsub", Topic = "grpc-dead", Routes = new TopicRoutes { Default = "/dead" } });
            response.Subscriptions.Add(new TopicSubscription
            {
                PubsubName = "pubsub",
                Topic = "grpc-bulk",
                Routes = new TopicRoutes { Default = "/bulk" },
                BulkSubscribe = new BulkSubscribeConfig { Enabled = true, MaxMessagesCount = 8, MaxAwaitDurationMs = 300 },
            });
            // Not the broker's pub/sub: left to some other component.
            response.Subscriptions.Add(new TopicSubscription { PubsubName = "other", Topic = "elsewhere", Routes = new TopicRoutes { Default = "/x" } });
            return Task.FromResult(response);
        }

        public override Task<TopicEventResponse> OnTopicEvent(TopicEventRequest request, ServerCallContext context)
        {
            Requests.Enqueue(request);
            return Task.FromResult(new TopicEventResponse { Status = Answer(request.Topic, request.Data.Memory) });
        }

        public override Task<TopicEventBulkResponse> OnBulkTopicEvent(TopicEventBulkRequest request, ServerCallContext context)
        {
            BulkSizes.Enqueue(request.Entries.Count);
            var response = new TopicEventBulkResponse();
            foreach (var entry in request.Entries)
            {
                response.Statuses.Add(new TopicEventBulkResponseEntry { EntryId = entry.EntryId, Status = Answer(request.Topic, entry.CloudEvent.Data.Memory) });
            }
            return Task.FromResult(response);
        }

        private TopicEventResponse.Types.TopicEventResponseStatus Answer(string topic, ReadOnlyMemory<byte> data)
        {
            using var json = JsonDocument.Parse(data);
            var id = json.RootElement.GetProperty("id").GetInt32();
            var kind = json.RootElement.GetProperty("kind").GetString();
            var times = Events.AddOrUpdate((topic, id), 1, (_, n) => n + 1);
            if (topic == "grpc-dead")
            {
                return TopicEventResponse.Types.TopicEventResponseStatus.Success;
            }
            return kind switch
            {
                "retry" when times == 1 => TopicEventResponse.Types.TopicEventResponseStatus.Retry,
                "drop" => TopicEventResponse.Types.TopicEventResponseStatus.Drop,
                _ => TopicEventResponse.Types.TopicEventResponseStatus.Success,
            };
        }
    }
}
