using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Security.Tests.Hosting;
using Broker.Testing;

namespace Broker.Security.Tests.Acls;

/// <summary>
/// Work Delivery does by itself for a principal (a Dapr app declared through the API, a replay job) holds to that
/// principal's rights as they are now: not refused for good while the ACLs are not loaded yet (a Delivery restart
/// races its ACL watch), and stopped when a right is taken away.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class BackgroundRightsTests(RedisFixture redis)
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(30);

    private static object App(string topic) => new
    {
        url = "http://127.0.0.1:9",
        subscriptions = new[] { new { pubsubname = "pubsub", topic, route = "/orders" } },
    };

    /// <summary>The topics the Delivery at <paramref name="delivery"/> delivers to the app now, as the superuser reads them.</summary>
    private static async Task<string[]> DeliveringAsync(Uri delivery, string appId)
    {
        using var admin = SecureBroker.Http(delivery, SecureBroker.AdminKey);
        var view = await admin.GetFromJsonAsync<JsonElement>($"/v1/apps/{appId}");
        return [.. view.GetProperty("delivering").EnumerateArray().Select(d => d.GetProperty("topic").GetString()!)];
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < s_patience, $"{what} within {s_patience.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    private static async Task CreateTopicAsync(SecureBroker broker, string topic, int records = 0)
    {
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions = 1 })).EnsureSuccessStatusCode();
        if (records > 0)
        {
            using var ingest = SecureBroker.Http(broker.IngestHttp, SecureBroker.AdminKey);
            (await ingest.PostAsJsonAsync($"/v1/topics/{topic}/records", new { records = Enumerable.Range(0, records).Select(i => new { value = i }) }))
                .EnsureSuccessStatusCode();
        }
    }

    [Fact]
    public async Task An_app_declared_by_a_principal_is_delivered_after_a_Delivery_restart_that_starts_before_the_ACLs_arrive()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("bg-app"));
        await CreateTopicAsync(broker, "orders");
        await broker.GrantAsync("alice", "group", "billing", "read");
        await broker.GrantAsync("alice", "topic", "orders", "read");
        await using (var first = broker.StartDelivery("restarted"))
        {
            using var alice = SecureBroker.Http(first.Http, SecureBroker.AliceKey);
            using var declared = await alice.PutAsJsonAsync("/v1/apps/billing", App("orders"));
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
            await UntilAsync(async () => (await DeliveringAsync(first.Http, "billing")).Contains("orders"), "the app is delivered");
        }

        // The restarted Delivery's ACL watch is answered only later; its apps are read from Redis at once.
        await using var slowStorage = TcpRelay.Start(broker.StorageGrpc, paused: true);
        await using var restarted = broker.StartDelivery("restarted", new Dictionary<string, string> { ["Auth:StorageAddress"] = slowStorage.Address.ToString() });
        await Task.Delay(1500);
        Assert.Empty(await DeliveringAsync(restarted.Http, "billing")); // nothing can be decided yet
        slowStorage.Resume();
        await UntilAsync(async () => (await DeliveringAsync(restarted.Http, "billing")).Contains("orders"), "the app is delivered once the ACLs are in");
    }

    [Fact]
    public async Task A_declared_subscription_stops_when_its_declarer_may_no_longer_read_the_topic_and_starts_again_when_it_may()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("bg-revoke"));
        await CreateTopicAsync(broker, "orders");
        await broker.GrantAsync("alice", "group", "billing", "read");
        await broker.GrantAsync("alice", "topic", "orders", "read");
        using var alice = SecureBroker.Http(broker.DeliveryHttp, SecureBroker.AliceKey);
        using (var declared = await alice.PutAsJsonAsync("/v1/apps/billing", App("orders")))
        {
            Assert.Equal(HttpStatusCode.Created, declared.StatusCode);
        }
        await UntilAsync(async () => (await DeliveringAsync(broker.DeliveryHttp, "billing")).Contains("orders"), "the app is delivered");

        var read = new { principal = "alice", resource = new { type = "topic", name = "orders", pattern = "literal" }, operations = new[] { "read" }, permission = "allow" };
        await broker.ChangeAclAsync(HttpMethod.Delete, read);
        await UntilAsync(async () => (await DeliveringAsync(broker.DeliveryHttp, "billing")).Length == 0, "the revoked topic is no longer delivered");

        await broker.ChangeAclAsync(HttpMethod.Post, read);
        await UntilAsync(async () => (await DeliveringAsync(broker.DeliveryHttp, "billing")).Contains("orders"), "the topic is delivered again once granted");
    }

    [Fact]
    public async Task A_replay_resumed_by_a_Delivery_restart_that_starts_before_the_ACLs_arrive_completes()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("bg-replay"));
        await CreateTopicAsync(broker, "history", records: 100);
        await broker.GrantAsync("alice", "topic", "history", "read");
        string id;
        await using (var first = broker.StartDelivery("restarted"))
        {
            // One record a second's bucket (topped up every 100 ms): long enough to be running when its Delivery stops.
            using var alice = SecureBroker.Http(first.Http, SecureBroker.AliceKey);
            using var created = await alice.PostAsJsonAsync("/v1/replays", new { topic = "history", target = new { verify = true }, rateLimit = 1 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            await UntilAsync(async () => await StateAsync(first.Http, id) == "running", "the replay runs");
        }

        await using var slowStorage = TcpRelay.Start(broker.StorageGrpc, paused: true);
        await using var restarted = broker.StartDelivery("restarted", new Dictionary<string, string> { ["Auth:StorageAddress"] = slowStorage.Address.ToString() });
        await Task.Delay(1500);
        Assert.NotEqual("failed", await StateAsync(restarted.Http, id));
        slowStorage.Resume();
        await UntilAsync(async () => await StateAsync(restarted.Http, id) is "completed" or "failed", "the replay ends");
        using var admin = SecureBroker.Http(restarted.Http, SecureBroker.AdminKey);
        var job = await admin.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}");
        Assert.True(job.GetProperty("state").GetString() == "completed", job.ToString());
        Assert.Equal(100, job.GetProperty("recordsDone").GetInt64());
    }

    private static async Task<string?> StateAsync(Uri delivery, string id)
    {
        using var admin = SecureBroker.Http(delivery, SecureBroker.AdminKey);
        return (await admin.GetFromJsonAsync<JsonElement>($"/v1/replays/{id}")).GetProperty("state").GetString();
    }
}
