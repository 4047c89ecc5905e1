using Broker.Client.Consuming;
using Broker.Client.Producing;
using Broker.Client.Tests.Hosting;
using Broker.Testing;

namespace Broker.Client.Tests.Consuming;

/// <summary>The consumer against real services: both modes ack, a nacked record ends in the dead-letter topic, a group resumes.</summary>
[Collection(RedisCollection.Name)]
public sealed class ConsumerTests(RedisFixture redis)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(ConsumeMode.Concurrent)]
    [InlineData(ConsumeMode.Ordered)]
    public async Task A_consumer_receives_acks_and_a_second_one_resumes_where_the_group_left_off(ConsumeMode mode)
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("events", 3);
        await using var producer = new BrokerProducer<string, string>(broker.ClientOptions);
        for (var i = 0; i < 30; i++)
        {
            producer.Produce("events", new Message<string, string> { Key = $"k{i % 5}", Value = $"first-{i}" });
        }
        await producer.FlushAsync();

        var received = new List<ConsumedMessage<string, string>>();
        await using (var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "billing", ["events"], new ConsumerOptions { Mode = mode }))
        {
            using var timeout = new CancellationTokenSource(s_wait);
            await foreach (var message in consumer.ConsumeAsync(timeout.Token))
            {
                received.Add(message);
                await consumer.AckAsync(message);
                if (received.Count == 30)
                {
                    break;
                }
            }
        }
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"first-{i}").Order(), received.Select(m => m.Value).Order());
        Assert.All(received, m => Assert.Equal(1, m.Attempt));
        if (mode == ConsumeMode.Ordered)
        {
            foreach (var partition in received.GroupBy(m => m.Partition))
            {
                Assert.Equal(partition.Select(m => m.Offset).Order(), partition.Select(m => m.Offset));
            }
        }

        // The group committed what was acked: a new member gets only what came after.
        for (var i = 0; i < 10; i++)
        {
            producer.Produce("events", new Message<string, string> { Key = $"k{i % 5}", Value = $"second-{i}" });
        }
        await producer.FlushAsync();
        var resumed = new List<string>();
        await using (var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "billing", ["events"], new ConsumerOptions { Mode = mode }))
        {
            using var timeout = new CancellationTokenSource(s_wait);
            await consumer.RunAsync((message, _) =>
            {
                lock (resumed)
                {
                    resumed.Add(message.Value);
                    if (resumed.Count == 10)
                    {
                        timeout.CancelAfter(TimeSpan.FromMilliseconds(500)); // a moment for anything extra to show
                    }
                }
                return ValueTask.CompletedTask;
            }, concurrency: 4, timeout.Token);
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"second-{i}").Order(), resumed.Order());
    }

    [Fact]
    public async Task A_handler_that_throws_nacks_until_the_record_goes_to_the_dead_letter_topic_with_the_error()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("payments", 1, maxDeliveryAttempts: 2);
        await using var producer = new BrokerProducer<string, string>(broker.ClientOptions);
        await producer.ProduceAsync("payments", "p1", "good");
        await producer.ProduceAsync("payments", "p2", "poison");
        await producer.ProduceAsync("payments", "p3", "good too");

        var processed = new List<(string Value, int Attempt)>();
        await using (var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "ledger", ["payments"]))
        {
            using var timeout = new CancellationTokenSource(s_wait);
            await consumer.RunAsync((message, _) =>
            {
                lock (processed)
                {
                    processed.Add((message.Value, message.Attempt));
                    if (processed.Count == 4)
                    {
                        timeout.CancelAfter(TimeSpan.FromMilliseconds(500));
                    }
                }
                return message.Value == "poison" ? throw new InvalidOperationException("card declined") : ValueTask.CompletedTask;
            }, cancellationToken: timeout.Token);
        }
        Assert.Contains(("poison", 1), processed);
        Assert.Contains(("poison", 2), processed);
        Assert.Equal(2, processed.Count(p => p.Value != "poison"));

        await using var deadLetters = new BrokerConsumer<string, string>(broker.ClientOptions, "inspect", ["payments.dlq"]);
        using var wait = new CancellationTokenSource(s_wait);
        await foreach (var dead in deadLetters.ConsumeAsync(wait.Token))
        {
            Assert.Equal("poison", dead.Value);
            Assert.Contains("card declined", dead.Headers.GetString("dlq.error") ?? string.Join(",", dead.Headers.Select(h => h.Key)), StringComparison.Ordinal);
            break;
        }
    }

    [Fact]
    public async Task A_record_extended_past_its_ack_timeout_is_not_delivered_again()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("slow", 1);
        await using (var producer = new BrokerProducer<string, string>(broker.ClientOptions))
        {
            await producer.ProduceAsync("slow", "k", "long job");
        }
        var deliveries = new List<int>();
        await using (var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "workers", ["slow"], new ConsumerOptions { AckTimeout = TimeSpan.FromSeconds(2) }))
        {
            using var timeout = new CancellationTokenSource(s_wait);
            try
            {
                await foreach (var message in consumer.ConsumeAsync(timeout.Token))
                {
                    deliveries.Add(message.Attempt);
                    // Three ack timeouts of work, extending the deadline every 250 ms (1.75 s to spare for a loaded
                    // machine's stalls); then a while longer to see that nothing comes again (without the extensions
                    // attempt 2 would be here by then).
                    for (var i = 0; i < 24; i++)
                    {
                        await Task.Delay(250, timeout.Token);
                        await consumer.ExtendAsync(message);
                    }
                    await consumer.AckAsync(message);
                    timeout.CancelAfter(TimeSpan.FromSeconds(2.5));
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
            }
        }
        Assert.Equal([1], deliveries);
        using var admin = new Broker.Client.Admin.BrokerAdminClient(broker.ClientOptions);
        var lag = -1L;
        for (var wait = System.Diagnostics.Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(10) && lag != 0; await Task.Delay(100))
        {
            lag = (await admin.DescribeGroupAsync("workers")).Topics.Single().Lag;
        }
        Assert.Equal(0, lag);
    }

    [Fact]
    public async Task A_subscription_to_a_missing_topic_ends_the_consume_loop_with_a_clear_exception()
    {
        await using var broker = LiveBroker.Start(redis);
        Assert.Throws<ArgumentException>(() => new BrokerConsumer<string, string>(broker.ClientOptions, "", ["events"]));
        Assert.Throws<ArgumentException>(() => new BrokerConsumer<string, string>(broker.ClientOptions, "g", []));
        await using var consumer = new BrokerConsumer<string, string>(broker.ClientOptions, "g", ["nowhere"]);
        using var timeout = new CancellationTokenSource(s_wait);
        var refused = await Assert.ThrowsAsync<ConsumeException>(async () =>
        {
            await foreach (var _ in consumer.ConsumeAsync(timeout.Token))
            {
            }
        });
        Assert.Equal(Grpc.Core.StatusCode.NotFound, refused.StatusCode);
        Assert.Contains("nowhere", refused.Message, StringComparison.Ordinal);
    }
}
