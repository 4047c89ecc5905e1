using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Testing;

namespace Broker.Storage.Tests.Topics;

[Collection(RedisCollection.Name)]
public sealed class TopicsApiTests(RedisFixture redis) : IAsyncLifetime
{
    private StorageHost _host = null!;

    public Task InitializeAsync()
    {
        _host = StorageHost.Start(redis.ConnectionString, redis.NewPrefix("topics"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_topic_is_created_listed_described_grown_and_deleted()
    {
        using var created = await _host.Http.PutAsJsonAsync("/v1/topics/orders", new
        {
            partitions = 4,
            retentionMs = 3_600_000,
            maxDeliveryAttempts = 3,
            compression = "lz4",
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/v1/topics/orders", created.Headers.Location?.OriginalString);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(4, body.GetProperty("partitions").GetInt32());
        Assert.Equal("orders.dlq", body.GetProperty("deadLetterTopic").GetString());
        Assert.Equal("lz4", body.GetProperty("compression").GetString());

        var list = await _host.Http.GetFromJsonAsync<JsonElement>("/v1/topics");
        Assert.Contains(list.GetProperty("topics").EnumerateArray(), t => t.GetProperty("name").GetString() == "orders");

        var described = await _host.Http.GetFromJsonAsync<JsonElement>("/v1/topics/orders");
        var partitions = described.GetProperty("partitionOffsets").EnumerateArray().ToArray();
        Assert.Equal(4, partitions.Length);
        Assert.All(partitions, p =>
        {
            Assert.Equal(0, p.GetProperty("startOffset").GetInt64());
            Assert.Equal(0, p.GetProperty("hotStartOffset").GetInt64());
            Assert.Equal(0, p.GetProperty("endOffset").GetInt64());
        });

        using var grown = await _host.Http.PutAsJsonAsync("/v1/topics/orders", new { partitions = 6 });
        Assert.Equal(HttpStatusCode.OK, grown.StatusCode);
        var afterGrow = await _host.Http.GetFromJsonAsync<JsonElement>("/v1/topics/orders");
        Assert.Equal(6, afterGrow.GetProperty("partitionOffsets").GetArrayLength());
        Assert.Equal(3_600_000, afterGrow.GetProperty("retentionMs").GetInt64()); // unchanged fields are kept

        using var shrink = await _host.Http.PutAsJsonAsync("/v1/topics/orders", new { partitions = 2 });
        Assert.Equal(HttpStatusCode.Conflict, shrink.StatusCode);
        Assert.Contains("added but not removed", await shrink.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        using var deleted = await _host.Http.DeleteAsync("/v1/topics/orders");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await _host.Http.GetAsync("/v1/topics/orders");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
        using var deletedTwice = await _host.Http.DeleteAsync("/v1/topics/orders");
        Assert.Equal(HttpStatusCode.NotFound, deletedTwice.StatusCode);
    }

    [Theory]
    [InlineData("bad:name", """{"partitions":1}""", "topic")]
    [InlineData("has%20space", """{"partitions":1}""", "topic")]
    [InlineData("ok-name", """{"partitions":0}""", "partitions")]
    [InlineData("ok-name", """{"partitions":1025}""", "partitions")]
    [InlineData("ok-name", """{"retentionMs":5}""", "retentionMs")]
    [InlineData("ok-name", """{"retentionBytes":-7}""", "retentionBytes")]
    [InlineData("ok-name", """{"hotBytes":0}""", "hotBytes")]
    [InlineData("ok-name", """{"maxDeliveryAttempts":0}""", "maxDeliveryAttempts")]
    [InlineData("ok-name", """{"deadLetterTopic":"ok-name"}""", "deadLetterTopic")]
    [InlineData("ok-name", """{"compression":"snappy"}""", "compression")]
    [InlineData("ok-name", """{"messageTtlMs":0}""", "messageTtlMs")]
    [InlineData("ok-name", """{"messageTtlMs":9223372036854775807}""", "messageTtlMs")]
    [InlineData("ok-name", """{"retentionMs":9223372036854775807}""", "retentionMs")]
    [InlineData("ok-name", """{"hotMs":3153600000001}""", "hotMs")]
    public async Task Invalid_topics_are_refused_with_the_field_named_and_nothing_created(string topic, string json, string field)
    {
        using var response = await _host.Http.PutAsync($"/v1/topics/{topic}", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");

        using var get = await _host.Http.GetAsync($"/v1/topics/{topic}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Ensure_topic_creates_a_missing_topic_once_and_leaves_an_existing_one_as_it_is()
    {
        var created = await _host.Log.EnsureTopicAsync(new Contracts.Storage.EnsureTopicRequest { Topic = "made-on-demand", Partitions = 3 });
        Assert.True(created.Created);
        Assert.Equal(3, created.Partitions);
        var again = await _host.Log.EnsureTopicAsync(new Contracts.Storage.EnsureTopicRequest { Topic = "made-on-demand", Partitions = 7 });
        Assert.False(again.Created);
        Assert.Equal(3, again.Partitions);

        var racing = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            _host.Log.EnsureTopicAsync(new Contracts.Storage.EnsureTopicRequest { Topic = "raced", Partitions = 2 }).ResponseAsync));
        Assert.Single(racing, r => r.Created);
        Assert.All(racing, r => Assert.Equal(2, r.Partitions));

        var bad = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() =>
            _host.Log.EnsureTopicAsync(new Contracts.Storage.EnsureTopicRequest { Topic = "bad name", Partitions = 1 }).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("legal topic name", bad.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_ttl_is_kept_with_the_topic_and_shown_to_delivery()
    {
        using var created = await _host.Http.PutAsJsonAsync("/v1/topics/expiring", new { partitions = 1, messageTtlMs = 60_000 });
        Assert.Equal(60_000, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageTtlMs").GetInt64());
        var described = await _host.Log.DescribeTopicAsync(new Contracts.Storage.DescribeTopicRequest { Topic = "expiring" });
        Assert.Equal(60_000, described.MessageTtlMs);
        using var plain = await _host.Http.PutAsJsonAsync("/v1/topics/lasting", new { partitions = 1 });
        Assert.Equal(-1, (await plain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageTtlMs").GetInt64());
    }

    [Fact]
    public async Task A_topic_name_longer_than_249_characters_is_refused()
    {
        var name = new string('a', 250);
        using var response = await _host.Http.PutAsJsonAsync($"/v1/topics/{name}", new { partitions = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("249", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_is_a_problem_with_a_message()
    {
        using var response = await _host.Http.PutAsync("/v1/topics/malformed", new StringContent("""{"partitions":""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("JSON", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_and_metrics_answer()
    {
        Assert.Equal("Healthy", await _host.Http.GetStringAsync("/health"));
        Assert.Equal("Healthy", await _host.Http.GetStringAsync("/alive"));
        await _host.CreateTopicAsync("metered", 1);
        var metrics = await _host.Http.GetStringAsync("/metrics");
        Assert.Contains("target_info", metrics, StringComparison.Ordinal);
    }
}
