using Broker.Delivery.Consuming;
using Broker.Delivery.Groups;
using Broker.Delivery.Retries;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Broker.Delivery.Tests.Units;

[Trait("Category", "Unit")]
public sealed class DeliveryUnitTests
{
    [Fact]
    public void Partitions_are_spread_round_robin_over_members_in_id_order_whatever_order_they_are_listed_in()
    {
        var assignment = Assignment.Assign(["b", "c", "a"], 8);
        Assert.Equal([0, 3, 6], assignment["a"]);
        Assert.Equal([1, 4, 7], assignment["b"]);
        Assert.Equal([2, 5], assignment["c"]);
        Assert.Equal(Assignment.Assign(["a", "b", "c"], 8)["b"], assignment["b"]);

        var crowded = Assignment.Assign(["a", "b", "c"], 2);
        Assert.Empty(crowded["c"]);
        Assert.Empty(Assignment.Assign([], 4));
    }

    [Theory]
    [InlineData("abcd1234-7.3.1042.2", "abcd1234-7", 3, 1042, 2)]
    [InlineData("a.b.c-1.0.0.1", "a.b.c-1", 0, 0, 1)]
    public void Delivery_ids_round_trip(string text, string member, int partition, long offset, int attempt)
    {
        Assert.True(DeliveryId.TryParse(text, out var id));
        Assert.Equal(new DeliveryId(member, partition, offset, attempt), id);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("nonsense")]
    [InlineData("m.1.2")]
    [InlineData(".1.2.3")]
    [InlineData("m.-1.2.3")]
    [InlineData("m.1.x.3")]
    public void Malformed_delivery_ids_are_refused(string? text) => Assert.False(DeliveryId.TryParse(text, out _));

    [Fact]
    public void The_offset_window_drops_only_the_settled_prefix_and_finds_records_by_offset()
    {
        var window = new OffsetWindow(100);
        var records = Enumerable.Range(100, 200).Select(o => Record(o)).ToList();
        records.ForEach(window.Append);
        Assert.Equal(300, window.EndOffset);
        Assert.Same(records[150], window.Find(250));
        Assert.Null(window.Find(99));
        Assert.Null(window.Find(300));

        records[1].State = RecordState.Settled;
        Assert.Equal(0, window.DropSettledPrefix());
        records[0].State = RecordState.Settled;
        Assert.Equal(2, window.DropSettledPrefix());
        Assert.Equal(102, window.HeadOffset);
        Assert.Throws<InvalidOperationException>(() => window.Append(Record(500)));
        window.Reset(1000);
        Assert.Equal(0, window.Count);
        Assert.Equal(1000, window.HeadOffset);
    }

    [Fact]
    public async Task Redelivery_waits_grow_exponentially_and_the_loop_ends_on_exhaustion()
    {
        var time = new FakeTimeProvider();
        var policy = new RedeliveryPolicy(Options.Create(new DeliveryOptions { RetryBaseDelayMs = 100, RetryMaxDelayMs = 350, RetryJitter = false }), time);
        var attempts = new List<TimeSpan>();
        var start = time.GetUtcNow();
        var run = policy.RunAsync(0, exhausted: false, (_, _) =>
        {
            attempts.Add(time.GetUtcNow() - start);
            return ValueTask.FromResult(attempts.Count == 4 ? AttemptOutcome.Exhausted : AttemptOutcome.Failed);
        }, CancellationToken.None);
        for (var i = 0; i < 20 && !run.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(5);
        }
        Assert.Equal(AttemptOutcome.Exhausted, await run);
        // 100, then 200, then capped at 350 ms.
        Assert.Equal([100, 300, 650, 1000], attempts.Select(a => a.TotalMilliseconds));
    }

    [Fact]
    public async Task A_record_failed_on_its_last_attempt_skips_the_wait()
    {
        var policy = new RedeliveryPolicy(Options.Create(new DeliveryOptions()), TimeProvider.System);
        var redelivered = false;
        var outcome = await policy.RunAsync(0, exhausted: true, (_, _) =>
        {
            redelivered = true;
            return ValueTask.FromResult(AttemptOutcome.Acked);
        }, CancellationToken.None);
        Assert.Equal(AttemptOutcome.Exhausted, outcome);
        Assert.False(redelivered);
    }

    private static PendingRecord Record(long offset) => new()
    {
        Partition = 0,
        Offset = offset,
        Key = null,
        Value = ReadOnlyMemory<byte>.Empty,
        Headers = [],
        Timestamp = 0,
        ExpiresAt = long.MaxValue,
    };
}
