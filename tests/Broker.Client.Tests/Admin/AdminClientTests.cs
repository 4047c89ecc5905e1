using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Broker.Client.Admin;
using Broker.Client.Consuming;
using Broker.Client.Producing;
using Broker.Client.Tests.Hosting;
using Broker.Testing;

namespace Broker.Client.Tests.Admin;

/// <summary>The admin client against the real services: topics, a group's lag, replay jobs watched to the end, schemas.</summary>
[Collection(RedisCollection.Name)]
public sealed class AdminClientTests(RedisFixture redis)
{
    [Fact]
    public async Task Topics_groups_replays_and_schemas_are_managed_and_refusals_say_why()
    {
        await using var broker = LiveBroker.Start(redis);
        using var admin = new BrokerAdminClient(broker.ClientOptions);

        var created = await admin.CreateTopicAsync("invoices", new TopicSettings { Partitions = 2, MaxDeliveryAttempts = 3 });
        Assert.Equal(2, created.Partitions);
        Assert.Equal("invoices.dlq", created.DeadLetterTopic);
        var altered = await admin.AlterTopicAsync("invoices", new TopicSettings { Partitions = 4, RetentionMs = 3_600_000 });
        Assert.Equal(4, altered.Partitions);
        Assert.Equal(3_600_000, altered.RetentionMs);
        Assert.Contains(await admin.ListTopicsAsync(), t => t.Name == "invoices");
        var refused = await Assert.ThrowsAsync<BrokerAdminException>(() => admin.CreateTopicAsync("bad:name", new TopicSettings { Partitions = 1 }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("bad:name", refused.Message, StringComparison.Ordinal);

        await using (var producer = new BrokerProducer<string, string>(broker.ClientOptions))
        {
            for (var i = 0; i < 20; i++)
            {
                producer.Produce("invoices", new Message<string, string> { Key = $"c{i}", Value = $"invoice-{i}" });
            }
            await producer.FlushAsync();
        }
        var described = await admin.DescribeTopicAsync("invoices");
        Assert.Equal(20, described!.PartitionOffsets!.Sum(p => p.EndOffset));
        Assert.Null(await admin.DescribeTopicAsync("no-such-topic"));

        // A group that read 5 of the 20 records lags by 15.
        await using (var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "billing", ["invoices"], new ConsumerOptions { Window = 5 }))
        {
            var acked = 0;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await foreach (var message in consumer.ConsumeAsync(timeout.Token))
            {
                await consumer.AckAsync(message);
                if (++acked == 5)
                {
                    break;
                }
            }
        }
        GroupDescription group;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            group = await admin.DescribeGroupAsync("billing");
        }
        while (group.Topics.Single().Lag != 15 && clock.Elapsed < TimeSpan.FromSeconds(10) && await Delay());
        Assert.Equal(15, group.Topics.Single().Lag);

        var replay = await admin.StartReplayAsync(new ReplayRequest { Topic = "invoices", Target = ReplayTarget.VerifyOnly });
        var statuses = new List<ReplayStatus>();
        await foreach (var status in admin.WatchReplayAsync(replay.Id, TimeSpan.FromMilliseconds(100)))
        {
            statuses.Add(status);
        }
        Assert.Equal("completed", statuses[^1].State);
        Assert.Equal(20, statuses[^1].RecordsDone);

        const string v1 = """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"int"}]}""";
        const string v2 = """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"int"},{"name":"note","type":"string","default":""}]}""";
        const string breaking = """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"string"}]}""";
        var id = await admin.RegisterSchemaAsync("invoices-value", v1);
        Assert.True(id > 0);
        Assert.Equal(id, await admin.RegisterSchemaAsync("invoices-value", v1));
        Assert.True((await admin.CheckSchemaAsync("invoices-value", v2)).IsCompatible);
        var incompatible = await admin.CheckSchemaAsync("invoices-value", breaking);
        Assert.False(incompatible.IsCompatible);
        Assert.NotEmpty(incompatible.Messages);

        Assert.True(await admin.DeleteTopicAsync("invoices"));
        Assert.False(await admin.DeleteTopicAsync("invoices"));
    }

    [Fact]
    public async Task An_answer_past_the_clients_bound_is_refused_with_a_clear_error_and_the_client_goes_on()
    {
        // Something posing as Storage that answers a 64 MiB topic list, then a small one.
        var huge = 0;
        await using var storage = await OutboundTarget.StartAsync(app =>
        {
            app.MapGet("/v1/topics", async (HttpContext context) =>
            {
                if (Interlocked.Increment(ref huge) == 1)
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("{\"topics\":[");
                    var chunk = new string(' ', 1 << 20);
                    for (var i = 0; i < 64 && !context.RequestAborted.IsCancellationRequested; i++)
                    {
                        await context.Response.WriteAsync(chunk, context.RequestAborted);
                    }
                    return;
                }
                await context.Response.WriteAsJsonAsync(new { topics = Array.Empty<object>() });
            });
        });
        using var admin = new BrokerAdminClient(new BrokerClientOptions { Storage = storage.Url });

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => admin.ListTopicsAsync());
        Assert.Contains("maximum buffer size", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await admin.ListTopicsAsync());
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(100);
        return true;
    }
}
