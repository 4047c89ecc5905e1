using System.Net;
using System.Net.Http.Json;
using System.Text;
using Broker.Contracts.Ingest;
using Broker.Ingest.Producing;
using Broker.Ingest.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Ingest.Tests.Produce;

/// <summary>With Storage slow, Ingest refuses what it cannot hold instead of growing, and loses nothing it acked.</summary>
[Collection(RedisCollection.Name)]
public sealed class BackpressureTests(RedisFixture redis)
{
    private const int BudgetBytes = 64 * 1024;

    [Fact]
    public async Task A_slow_storage_makes_ingest_refuse_with_429_and_every_acked_record_is_in_the_log()
    {
        await using var hosts = SlowHosts();
        await hosts.CreateTopicAsync("slow", partitions: 2);
        var budget = hosts.IngestServices.GetRequiredService<ProduceBudget>();

        var sends = Enumerable.Range(0, 40).Select(async i =>
        {
            var body = new { records = Enumerable.Range(0, 10).Select(n => new { key = $"k{n}", value = $"r{i}-{n}-{new string('x', 1000)}" }) };
            using var response = await hosts.IngestHttp.PostAsJsonAsync("/v1/topics/slow/records", body);
            Assert.True(budget.UsedBytes <= BudgetBytes + 11_000, $"buffered {budget.UsedBytes} bytes");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
                Assert.Contains("Ingest:MaxBufferedBytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                return (Acked: false, Offsets: Array.Empty<(int, long, string)>());
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var offsets = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("offsets").EnumerateArray()
                .Select((o, n) => (o.GetProperty("partition").GetInt32(), o.GetProperty("offset").GetInt64(), $"r{i}-{n}-")).ToArray();
            return (Acked: true, Offsets: offsets);
        }).ToArray();
        var results = await Task.WhenAll(sends);

        Assert.Contains(results, r => !r.Acked);
        Assert.Contains(results, r => r.Acked);
        Assert.Equal(0, budget.UsedBytes);
        var log = new Dictionary<(int, long), string>();
        for (var p = 0; p < 2; p++)
        {
            foreach (var record in await hosts.Storage.ReadAllAsync("slow", p))
            {
                log[(p, record.Offset)] = Encoding.UTF8.GetString(record.Value.Span);
            }
        }
        foreach (var (partition, offset, prefix) in results.Where(r => r.Acked).SelectMany(r => r.Offsets))
        {
            Assert.StartsWith("\"" + prefix, log[(partition, offset)], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_slow_storage_makes_the_grpc_stream_answer_resource_exhausted()
    {
        await using var hosts = SlowHosts();
        await hosts.CreateTopicAsync("slow-grpc", partitions: 1);
        using var call = hosts.Ingest.Produce();
        for (var i = 0; i < 30; i++)
        {
            var request = new ProduceRequest { RequestId = (ulong)i, Topic = "slow-grpc" };
            for (var n = 0; n < 10; n++)
            {
                request.Records.Add(new ProduceRecord { Value = ByteString.CopyFrom(new byte[1000]) });
            }
            await call.RequestStream.WriteAsync(request);
        }
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();

        var refused = responses.Where(r => r.StatusCode == (int)StatusCode.ResourceExhausted).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Equal(1000, r.RetryAfterMs));
        var acked = responses.Where(r => r.StatusCode == 0).Sum(r => r.Offsets.Count);
        Assert.Equal(acked, (await hosts.Storage.EndOffsetsAsync("slow-grpc")).Sum());
    }

    [Fact]
    public async Task A_partition_whose_segment_store_is_down_fills_its_hot_tier_to_the_hard_limit_then_ingest_answers_429_and_loses_nothing()
    {
        // The segment folder's parent is a file: every segment upload fails, as with S3 away.
        var blocker = Path.Combine(Path.GetTempPath(), "broker-blocked-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(blocker, "not a folder");
        try
        {
            await using var hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("full"), storageSettings: new Dictionary<string, string>
            {
                ["Storage:Segments:Store"] = "local",
                ["Storage:Segments:Directory"] = Path.Combine(blocker, "segments"),
                ["Storage:Segments:MaxRetries"] = "0",
                ["Storage:Tiering:IntervalMs"] = "100",
                ["Storage:Tiering:SegmentBytes"] = "8192",
                ["Storage:Tiering:HardLimitFactor"] = "2",
            });
            using (var created = await hosts.StorageHttp.PutAsJsonAsync("/v1/topics/stuck", new { partitions = 1, hotBytes = 32 * 1024 }))
            {
                created.EnsureSuccessStatusCode();
            }
            var acked = new List<(long Offset, string Value)>();
            HttpResponseMessage? refused = null;
            for (var i = 0; i < 200 && refused is null; i++)
            {
                var value = $"v{i}-{new string('y', 2000)}";
                var response = await hosts.IngestHttp.PostAsJsonAsync("/v1/topics/stuck/records", new { records = new[] { new { value } } });
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    refused = response;
                    break;
                }
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                acked.Add(((await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("offsets")[0].GetProperty("offset").GetInt64(), value));
                response.Dispose();
            }
            Assert.NotNull(refused);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("hard limit", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            refused.Dispose();
            // Up to twice the 32 KiB budget was taken in 2 KB records; every one of them is in the log.
            Assert.InRange(acked.Count, 25, 40);
            var log = (await hosts.Storage.ReadAllAsync("stuck", 0)).ToDictionary(r => r.Offset, r => Encoding.UTF8.GetString(r.Value.Span));
            Assert.Equal(acked.Count, log.Count);
            Assert.All(acked, a => Assert.Equal("\"" + a.Value + "\"", log[a.Offset]));
        }
        finally
        {
            File.Delete(blocker);
        }
    }

    private BrokerHosts SlowHosts() => BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("slow"), new Dictionary<string, string>
    {
        ["Ingest:MaxBufferedBytes"] = BudgetBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Ingest:LingerMs"] = "0",
    }, appendDelay: TimeSpan.FromMilliseconds(300));
}
