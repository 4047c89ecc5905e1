using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Dapr.Tests.Hosting;
using Broker.Testing;

namespace Broker.Dapr.Tests.Apps;

/// <summary>Dapr subscriptions to topics nobody created: made on demand, or, switched off, refused naming the topic.</summary>
[Collection(RedisCollection.Name)]
public sealed class TopicsOnDemandTests(RedisFixture redis)
{
    private static readonly object s_app = new
    {
        url = "http://127.0.0.1:9",
        subscriptions = new[] { new { pubsubname = "pubsub", topic = "never-created", route = "/x" } },
    };

    [Fact]
    public async Task An_app_subscription_creates_its_topic_with_the_configured_partitions()
    {
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("ondemand"),
            new Dictionary<string, string> { ["Delivery:Dapr:TopicPartitions"] = "3" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        using var declared = await delivery.PutAsJsonAsync("/v1/apps/maker", s_app);
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);

        DescribeTopicResponse? described = null;
        await Wait.UntilAsync(() =>
        {
            try
            {
                described = broker.Storage.DescribeTopic(new DescribeTopicRequest { Topic = "never-created" });
                return true;
            }
            catch (Grpc.Core.RpcException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), () => "the topic made on demand");
        Assert.Equal(3, described!.Partitions.Count);
    }

    [Fact]
    public async Task Switched_off_the_subscription_waits_and_says_which_topic_is_missing()
    {
        await using var broker = DaprBroker.Start(redis.ConnectionString, redis.NewPrefix("strict"),
            new Dictionary<string, string> { ["Delivery:Dapr:CreateTopics"] = "false" });
        using var delivery = new HttpClient { BaseAddress = broker.DeliveryHttp };
        using var declared = await delivery.PutAsJsonAsync("/v1/apps/strict", s_app);
        Assert.Equal(HttpStatusCode.Created, declared.StatusCode);

        string? state = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (state is null || !state.StartsWith("waiting", StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the app's state: {state}");
            await Task.Delay(50);
            var view = await delivery.GetFromJsonAsync<JsonElement>("/v1/apps/strict");
            state = view.GetProperty("delivering").EnumerateArray().Select(d => d.GetProperty("state").GetString()).FirstOrDefault();
        }
        Assert.Contains("'never-created' does not exist", state, StringComparison.Ordinal);
        Assert.Contains("Delivery:Dapr:CreateTopics is off", state, StringComparison.Ordinal);
    }
}
