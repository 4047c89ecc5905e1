using System.Net;
using System.Text;
using Broker.Ingest.Producing;
using Broker.Ingest.Tests.Hosting;
using Broker.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Ingest.Tests.Produce;

/// <summary>A partition's batcher is let go when its partition goes quiet, and a record after that is written as usual.</summary>
[Collection(RedisCollection.Name)]
public sealed class IdleBatcherTests(RedisFixture redis) : IAsyncLifetime
{
    private BrokerHosts _hosts = null!;

    public Task InitializeAsync()
    {
        _hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("idle"), new Dictionary<string, string> { ["Ingest:AccumulatorIdleMs"] = "300" });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _hosts.DisposeAsync();

    [Fact]
    public async Task Quiet_partitions_let_their_batchers_go_and_later_records_land_after_the_earlier_ones()
    {
        await _hosts.CreateTopicAsync("quiet", partitions: 4);
        var producer = _hosts.IngestServices.GetRequiredService<Producer>();
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 8; i++)
            {
                using var content = new StringContent($"{{\"records\":[{{\"key\":\"k{i}\",\"value\":\"round {round} record {i}\"}}]}}", Encoding.UTF8, "application/json");
                using var response = await _hosts.IngestHttp.PostAsync("/v1/topics/quiet/records", content);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            Assert.True(producer.Accumulators > 0);
            // Quiet for longer than Ingest:AccumulatorIdleMs: every batcher goes.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (producer.Accumulators > 0 && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }
            Assert.Equal(0, producer.Accumulators);
        }

        // Every record is in the log once, and per key in the order produced across the batchers' lives.
        var values = new List<string>();
        for (var partition = 0; partition < 4; partition++)
        {
            values.AddRange((await _hosts.Storage.ReadAllAsync("quiet", partition)).Select(r => Encoding.UTF8.GetString(r.Value.Span)));
        }
        Assert.Equal(24, values.Count);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal([$"\"round 0 record {i}\"", $"\"round 1 record {i}\"", $"\"round 2 record {i}\""], values.Where(v => v.EndsWith($"record {i}\"", StringComparison.Ordinal)));
        }
    }
}
