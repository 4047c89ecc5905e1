using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Testing;
using Grpc.Core;
using StackExchange.Redis;

namespace Broker.Storage.Tests.Topics;

/// <summary>
/// Storage:MaxPartitions and Storage:MaxTopics: broker-wide, checked atomically with the write, so concurrent
/// creates through several Storage instances on one Redis never pass them; deleting a topic gives its room back.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class PartitionLimitTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly List<StorageHost> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    private StorageHost Start(string? prefix, int maxPartitions, int maxTopics = 10_000)
    {
        var host = StorageHost.Start(prefix is null ? null : redis.ConnectionString, prefix ?? "memory", new Dictionary<string, string>
        {
            ["Storage:MaxPartitions"] = maxPartitions.ToString(CultureInfo.InvariantCulture),
            ["Storage:MaxTopics"] = maxTopics.ToString(CultureInfo.InvariantCulture),
            ["Storage:Segments:Store"] = "none",
        });
        _hosts.Add(host);
        return host;
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("memory")]
    public async Task Concurrent_creates_through_two_instances_never_pass_the_limit_and_deleting_a_topic_makes_room(string hotTier)
    {
        var prefix = hotTier == "redis" ? redis.NewPrefix("limit") : null;
        StorageHost[] hosts = hotTier == "redis" ? [Start(prefix, 100), Start(prefix, 100)] : [Start(null, 100)];

        // 40 topics of 7 partitions asked for at once, half through each instance: only 14 fit (98 partitions).
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var response = await hosts[i % hosts.Length].Http.PutAsJsonAsync($"/v1/topics/t{i}", new { partitions = 7 });
            return (Topic: $"t{i}", response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        var created = answers.Where(a => a.StatusCode == HttpStatusCode.Created).Select(a => a.Topic).ToList();
        Assert.Equal(14, created.Count);
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Created), a =>
        {
            Assert.Equal(HttpStatusCode.Conflict, a.StatusCode);
            var problem = JsonDocument.Parse(a.Body).RootElement;
            Assert.Contains("Storage:MaxPartitions (100)", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("7 more", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal("The broker's limit is reached.", problem.GetProperty("title").GetString());
        });
        Assert.Equal(98, await PartitionsListedAsync(hosts[0]));
        if (prefix is not null)
        {
            // A refused create leaves no partition state behind.
            Assert.Equal(98, await KeyCountAsync(prefix, "*:meta"));
        }

        // Growing a topic past the limit is refused too, and the topic stays as it was.
        using (var grow = await hosts[^1].Http.PutAsJsonAsync($"/v1/topics/{created[0]}", new { partitions = 10 }))
        {
            Assert.Equal(HttpStatusCode.Conflict, grow.StatusCode);
            Assert.Contains("The broker holds 98 partitions; 3 more would pass Storage:MaxPartitions (100)", await grow.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(7, (await hosts[0].Http.GetFromJsonAsync<JsonElement>($"/v1/topics/{created[0]}")).GetProperty("partitions").GetInt32());
        using (var grow = await hosts[0].Http.PutAsJsonAsync($"/v1/topics/{created[0]}", new { partitions = 9 }))
        {
            Assert.Equal(HttpStatusCode.OK, grow.StatusCode); // 100 exactly is allowed
        }

        // Made on demand (dead-letter and Dapr topics): refused the same way.
        var ensure = await Assert.ThrowsAsync<RpcException>(() =>
            hosts[0].Log.EnsureTopicAsync(new EnsureTopicRequest { Topic = "made-on-demand", Partitions = 1 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ensure.StatusCode);
        Assert.Contains("The broker holds 100 partitions; 1 more would pass Storage:MaxPartitions (100)", ensure.Status.Detail, StringComparison.Ordinal);
        // An existing topic is still answered.
        Assert.Equal(9, (await hosts[0].Log.EnsureTopicAsync(new EnsureTopicRequest { Topic = created[0], Partitions = 1 })).Partitions);

        // Deleting gives the partitions back, through either instance.
        using (var deleted = await hosts[^1].Http.DeleteAsync($"/v1/topics/{created[1]}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        Assert.True((await hosts[0].Log.EnsureTopicAsync(new EnsureTopicRequest { Topic = "made-on-demand", Partitions = 7 })).Created);
        Assert.Equal(100, await PartitionsListedAsync(hosts[0]));

        // Storage still answers: health, listing, appends.
        Assert.Equal("Healthy", await hosts[0].Http.GetStringAsync("/health"));
        var appended = await hosts[^1].Log.AppendAsync(new AppendRequest
        {
            Topic = "made-on-demand",
            Partition = 6,
            Batch = Google.Protobuf.ByteString.CopyFrom(TestBatches.Build(["still here"])),
        });
        Assert.Equal(0, appended.BaseOffset);
    }

    [Fact]
    public async Task The_topic_limit_holds_under_concurrency_and_names_its_setting()
    {
        var prefix = redis.NewPrefix("topiclimit");
        StorageHost[] hosts = [Start(prefix, 10_000, maxTopics: 5), Start(prefix, 10_000, maxTopics: 5)];

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await hosts[i % 2].Http.PutAsJsonAsync($"/v1/topics/t{i}", new { partitions = 1 });
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Created), a =>
        {
            Assert.Equal(HttpStatusCode.Conflict, a.StatusCode);
            Assert.Contains("The broker holds 5 topics; one more would pass Storage:MaxTopics (5)", a.Body, StringComparison.Ordinal);
        });
        Assert.Equal(5, (await hosts[0].Http.GetFromJsonAsync<JsonElement>("/v1/topics")).GetProperty("topics").GetArrayLength());
    }

    [Fact]
    public async Task Totals_missing_or_behind_the_topics_written_by_an_older_storage_are_counted_again()
    {
        var prefix = redis.NewPrefix("recount");
        var host = Start(prefix, 20);
        await host.CreateTopicAsync("a", 6);
        await host.CreateTopicAsync("b", 6);
        var db = redis.Connection.GetDatabase();
        var topicsKey = prefix.TrimEnd(':') + ":topics";
        var totalsKey = "{" + prefix.TrimEnd(':') + ":topics}:totals";

        // As before this change: no totals at all, and a topic written straight into the hash.
        await db.KeyDeleteAsync(totalsKey);
        var stored = (string)(await db.HashGetAsync(topicsKey, "b"))!;
        await db.HashSetAsync(topicsKey, "c", stored.Replace("\"name\":\"b\"", "\"name\":\"c\"", StringComparison.Ordinal));

        using var refused = await host.Http.PutAsJsonAsync("/v1/topics/d", new { partitions = 3 });
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("The broker holds 18 partitions; 3 more would pass Storage:MaxPartitions (20)", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await host.CreateTopicAsync("d", 2);
        var totals = await db.HashGetAsync(totalsKey, ["topics", "partitions"]);
        Assert.Equal(["4", "20"], totals.Select(v => (string?)v));
    }

    private static async Task<int> PartitionsListedAsync(StorageHost host) =>
        (await host.Http.GetFromJsonAsync<JsonElement>("/v1/topics")).GetProperty("topics").EnumerateArray().Sum(t => t.GetProperty("partitions").GetInt32());

    private async Task<int> KeyCountAsync(string prefix, string pattern)
    {
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        var count = 0;
        await foreach (var _ in server.KeysAsync(pattern: prefix.TrimEnd(':') + pattern, pageSize: 1000))
        {
            count++;
        }
        return count;
    }
}
