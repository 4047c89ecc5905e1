using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Ingest.Tests.Hosting;
using Broker.Testing;

namespace Broker.Ingest.Tests.Produce;

[Collection(RedisCollection.Name)]
public sealed class ProduceHttpTests(RedisFixture redis) : IAsyncLifetime
{
    private BrokerHosts _hosts = null!;

    public async Task InitializeAsync()
    {
        _hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("http"), new Dictionary<string, string>
        {
            ["Ingest:MaxRecordBytes"] = "4096",
        });
        await _hosts.CreateTopicAsync("events", partitions: 3);
    }

    public async Task DisposeAsync() => await _hosts.DisposeAsync();

    [Fact]
    public async Task Json_and_binary_values_read_back_byte_for_byte()
    {
        var binary = new byte[1000];
        new Random(5).NextBytes(binary);
        const string json = """{"records":[{"key":"k","value":{"order":1,"items":["a","b"],"note":"ünïcødé"},"headers":{"source":"test"},"partition":2},{"valueBase64":"BINARY","partition":2}]}""";
        using var response = await _hosts.IngestHttp.PostAsync("/v1/topics/events/records",
            new StringContent(json.Replace("BINARY", Convert.ToBase64String(binary), StringComparison.Ordinal), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var offsets = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("offsets").EnumerateArray()
            .Select(o => (o.GetProperty("partition").GetInt32(), o.GetProperty("offset").GetInt64())).ToArray();
        Assert.Equal([(2, 0L), (2, 1L)], offsets);

        var raw = new byte[2000];
        new Random(6).NextBytes(raw);
        using var single = new HttpRequestMessage(HttpMethod.Post, "/v1/topics/events/records") { Content = new ByteArrayContent(raw) };
        single.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        single.Headers.Add("X-Record-Key", "curl-key");
        single.Headers.Add("X-Record-Partition", "2");
        single.Headers.Add("X-Record-Header-Origin", "curl");
        using var singleResponse = await _hosts.IngestHttp.SendAsync(single);
        Assert.Equal(HttpStatusCode.OK, singleResponse.StatusCode);

        var records = await _hosts.Storage.ReadAllAsync("events", 2);
        Assert.Equal(3, records.Count);
        Assert.Equal("""{"order":1,"items":["a","b"],"note":"ünïcødé"}""", Encoding.UTF8.GetString(records[0].Value.Span));
        Assert.Equal("k", Encoding.UTF8.GetString(records[0].Key!.Value.Span));
        Assert.Equal("test", Encoding.UTF8.GetString(records[0].Headers.Single(h => h.Name == "source").Value.Span));
        Assert.Null(records[1].Key);
        Assert.Equal(binary, records[1].Value.ToArray());
        Assert.Equal(raw, records[2].Value.ToArray());
        Assert.Equal("curl-key", Encoding.UTF8.GetString(records[2].Key!.Value.Span));
        Assert.Equal("curl", Encoding.UTF8.GetString(records[2].Headers.Single(h => h.Name == "Origin").Value.Span));
    }

    [Fact]
    public async Task Batches_to_a_compressed_topic_are_compressed_with_its_codec()
    {
        using (var created = await _hosts.StorageHttp.PutAsJsonAsync("/v1/topics/packed", new { partitions = 1, compression = "lz4" }))
        {
            created.EnsureSuccessStatusCode();
        }
        using var response = await _hosts.IngestHttp.PostAsJsonAsync("/v1/topics/packed/records",
            new { records = Enumerable.Range(0, 20).Select(i => new { value = new { order = i, status = "created" } }) });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var read = await _hosts.Storage.ReadAsync(new Broker.Contracts.Storage.ReadRequest { Topic = "packed", Partition = 0, Offset = 0 });
        Assert.All(read.Batches, b => Assert.Equal(Broker.Contracts.Batches.CompressionCodec.Lz4, Broker.Contracts.Batches.RecordBatch.Validate(b.Memory).Codec));
        Assert.Equal(20, (await _hosts.Storage.ReadAllAsync("packed", 0)).Count);
    }

    [Fact]
    public async Task Ingest_is_ready_when_storage_answers()
    {
        Assert.Equal("Healthy", await _hosts.IngestHttp.GetStringAsync("/health"));
        Assert.Equal("Healthy", await _hosts.IngestHttp.GetStringAsync("/alive"));
    }

    [Fact]
    public async Task The_same_idempotency_key_twice_writes_one_copy()
    {
        async Task<string> Send()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/topics/events/records")
            {
                Content = JsonContent.Create(new { records = new object[] { new { key = "a", value = 1 }, new { key = "b", value = 2 }, new { value = 3 } } }),
            };
            request.Headers.Add("Idempotency-Key", "order-7781");
            using var response = await _hosts.IngestHttp.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }

        var first = await Send();
        var second = await Send();
        Assert.Equal(first, second);
        var ends = await _hosts.Storage.EndOffsetsAsync("events");
        Assert.Equal(3, ends.Sum());
    }

    [Fact]
    public async Task Each_record_carries_the_callers_trace()
    {
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/topics/events/records")
        {
            Content = JsonContent.Create(new { records = new object[] { new { value = "traced", partition = 1 } } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await _hosts.IngestHttp.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var record = Assert.Single(await _hosts.Storage.ReadAllAsync("events", 1));
        var traceparent = Encoding.ASCII.GetString(record.Headers.Single(h => h.Name == "traceparent").Value.Span);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", traceparent);
        Assert.Equal(traceId.ToHexString(), traceparent.Split('-')[1]);
    }

    [Theory]
    [InlineData("events", """{"records":[{"value":1}""", "not valid JSON")]
    [InlineData("events", """{"records":[{"value":1,"valueBase64":"AA=="}]}""", "both")]
    [InlineData("events", """{"records":[{"valueBase64":"not base64!"}]}""", "not valid base64")]
    [InlineData("events", """{"records":[{"key":"no value"}]}""", "needs \"value\"")]
    [InlineData("events", """{"records":[{"value":1,"partition":3}]}""", "partitions 0 to 2")]
    [InlineData("events", """{"records":[]}""", "at least one record")]
    [InlineData("events", """{"nothing":[]}""", "\"records\"")]
    [InlineData("events", """{"records":[{"value":1,"headers":{"":"x"}}]}""", "empty name")]
    [InlineData("events", """{"records":[{"valueBase64":"BIG"}]}""", "Ingest:MaxRecordBytes")]
    [InlineData("no-such-topic", """{"records":[{"value":1}]}""", "does not exist")]
    public async Task Bad_input_is_a_4xx_with_a_message_and_writes_nothing(string topic, string body, string message)
    {
        body = body.Replace("BIG", Convert.ToBase64String(new byte[5000]), StringComparison.Ordinal);
        using var response = await _hosts.IngestHttp.PostAsync($"/v1/topics/{topic}/records", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"status {(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(message, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await _hosts.Storage.EndOffsetsAsync("events")).Sum());
    }

    [Fact]
    public async Task A_body_over_the_request_limit_is_refused_with_413()
    {
        await using var hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("limit"), new Dictionary<string, string> { ["Ingest:MaxRequestBytes"] = "2048" });
        await hosts.CreateTopicAsync("small", 1);
        var body = JsonSerializer.Serialize(new { records = Enumerable.Range(0, 100).Select(i => new { value = new string('x', 50) }) });
        using var response = await hosts.IngestHttp.PostAsync("/v1/topics/small/records", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, (await hosts.Storage.EndOffsetsAsync("small")).Sum());
    }
}
