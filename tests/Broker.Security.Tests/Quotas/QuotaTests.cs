using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;

namespace Broker.Security.Tests.Quotas;

/// <summary>
/// Client quotas as Kafka has them: bytes per second per principal, for producing and fetching. Over it, a producer is
/// answered 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED with retry_after_ms) and an HTTP consumer likewise; a gRPC
/// consumer is held back instead. Principals without a quota of their own take Quotas:Default (unlimited here).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class QuotaTests(RedisFixture redis)
{
    private static readonly Dictionary<string, string> s_quotas = new()
    {
        ["Quotas:Principals:alice:ProduceBytesPerSecond"] = "20000",
        ["Quotas:Principals:alice:FetchBytesPerSecond"] = "20000",
        ["Quotas:BurstSeconds"] = "1",
    };

    [Fact]
    public async Task A_producer_over_its_quota_is_told_when_to_come_back_over_REST_and_gRPC()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("quota-produce"), s_quotas);
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsJsonAsync("/v1/topics/metered", new { partitions = 1 })).EnsureSuccessStatusCode();
        await broker.GrantAsync("alice", "topic", "metered", "write");
        using var alice = SecureBroker.Http(broker.IngestHttp, SecureBroker.AliceKey);
        var big = new { records = new[] { new { value = new string('x', 30_000) } } };

        // The first request may overdraw the bucket (as Kafka lets one through); the next waits for the debt to be repaid.
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsJsonAsync("/v1/topics/metered/records", big)).StatusCode);
        using var throttled = await alice.PostAsJsonAsync("/v1/topics/metered/records", big);
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        var wait = throttled.Headers.RetryAfter?.Delta;
        Assert.NotNull(wait);
        Assert.InRange(wait.Value.TotalSeconds, 1, 3);
        Assert.Contains("produce quota (20000 bytes/s)", (await throttled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        using (var channel = SecureBroker.Channel(broker.IngestGrpc, SecureBroker.AliceKey))
        {
            using var stream = new ProduceService.ProduceServiceClient(channel).Produce();
            await stream.RequestStream.WriteAsync(new ProduceRequest { RequestId = 1, Topic = "metered", Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("y") } } });
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal((int)Grpc.Core.StatusCode.ResourceExhausted, stream.ResponseStream.Current.StatusCode);
            Assert.InRange(stream.ResponseStream.Current.RetryAfterMs, 1, 3000);
            await stream.RequestStream.CompleteAsync();
        }

        // The superuser has no quota of its own and the default is unlimited.
        using var ingestAdmin = SecureBroker.Http(broker.IngestHttp, SecureBroker.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await ingestAdmin.PostAsJsonAsync("/v1/topics/metered/records", big)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingestAdmin.PostAsJsonAsync("/v1/topics/metered/records", big)).StatusCode);

        // Told when: coming back then works.
        await Task.Delay(wait.Value + TimeSpan.FromMilliseconds(200));
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsJsonAsync("/v1/topics/metered/records", new { records = new[] { new { value = "z" } } })).StatusCode);

        // Counted where operators look.
        using var metrics = new HttpClient { BaseAddress = broker.IngestHttp };
        var scrape = await metrics.GetStringAsync("/metrics");
        var lines = scrape.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("broker_quota_throttled_total{", StringComparison.Ordinal) && l.Contains("kind=\"produce\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("broker_quota_bytes_total{", StringComparison.Ordinal) && l.Contains("kind=\"produce\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_consumer_over_its_quota_is_refused_a_poll_and_held_back_on_a_stream()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("quota-fetch"), s_quotas);
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsJsonAsync("/v1/topics/watched", new { partitions = 1 })).EnsureSuccessStatusCode();
        using var ingest = SecureBroker.Http(broker.IngestHttp, SecureBroker.AdminKey);
        // 100 records of 1,000 bytes: five seconds of alice's fetch quota.
        var records = Enumerable.Range(0, 100).Select(i => new { value = new string((char)('a' + (i % 26)), 1000) }).ToArray();
        (await ingest.PostAsJsonAsync("/v1/topics/watched/records", new { records })).EnsureSuccessStatusCode();
        await broker.GrantAsync("alice", "topic", "watched", "read");
        await broker.GrantAsync("alice", "group", "*", "read");

        using var delivery = SecureBroker.Http(broker.DeliveryHttp, SecureBroker.AliceKey);
        using (var first = await delivery.PostAsJsonAsync("/v1/groups/poller/topics/watched/poll", new { start = "earliest", maxRecords = 50, waitMs = 5000 }))
        {
            // One answer carries at most the quota's burst: 20 KB, twenty of the records.
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(20, (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").GetArrayLength());
        }
        using (var second = await delivery.PostAsJsonAsync("/v1/groups/poller/topics/watched/poll", new { start = "earliest", maxRecords = 50 }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.NotNull(second.Headers.RetryAfter?.Delta);
            Assert.Contains("fetch quota", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A stream is not refused but held to the rate: 100 KB at 20 KB/s (a 20 KB burst) takes at least about 3.5 s.
        using var channel = SecureBroker.Channel(broker.DeliveryGrpc, SecureBroker.AliceKey);
        using var stream = new DeliveryService.DeliveryServiceClient(channel).Subscribe();
        await Task.Delay(TimeSpan.FromSeconds(3)); // let the HTTP poll's debt be repaid first
        var clock = Stopwatch.StartNew();
        await stream.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = "streamer", Topic = "watched", Window = 1000 } });
        var received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (received < 100 && await stream.ResponseStream.MoveNext(timeout.Token))
        {
            if (stream.ResponseStream.Current.KindCase == SubscribeResponse.KindOneofCase.Records)
            {
                var batch = stream.ResponseStream.Current.Records.Records_;
                received += batch.Count;
                var acks = new Acks();
                acks.Ack.AddRange(batch.Select(r => r.DeliveryId));
                await stream.RequestStream.WriteAsync(new SubscribeRequest { Acks = acks });
            }
        }
        Assert.Equal(100, received);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(3), $"100 KB arrived in {clock.Elapsed.TotalSeconds:F1} s: the 20 KB/s fetch quota did not hold it back");
    }
}
