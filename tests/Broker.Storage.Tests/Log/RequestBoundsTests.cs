using Broker.Contracts.Storage;
using Broker.Storage.Tests.Hosting;
using Broker.Storage.Tests.Infrastructure;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Storage.Tests.Log;

/// <summary>What one request can make Storage hold or do: each bounded, each refusal naming its setting.</summary>
[Collection(RedisCollection.Name)]
public sealed class RequestBoundsTests(RedisFixture redis) : IAsyncLifetime
{
    private static CallOptions Timeout => new(deadline: DateTime.UtcNow.AddMinutes(1));
    private StorageHost _host = null!;

    public Task InitializeAsync()
    {
        _host = StorageHost.Start(redis.ConnectionString, redis.NewPrefix("bounds"), new Dictionary<string, string>
        {
            ["Storage:MaxTailStreams"] = "2",
            ["Storage:MaxAppendsInFlightPerStream"] = "4",
            ["Storage:Segments:Store"] = "none",
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Tail_streams_past_the_instance_limit_are_refused_naming_it_and_a_closed_one_makes_room()
    {
        await _host.CreateTopicAsync("tailed", 1);
        using var first = new CancellationTokenSource();
        using var one = _host.Log.Tail(new TailRequest { Topic = "tailed" }, cancellationToken: first.Token);
        using var two = _host.Log.Tail(new TailRequest { Topic = "tailed" });
        // Both are open once an append reaches them.
        await Append("tailed", "wake");
        Assert.True(await one.ResponseStream.MoveNext(CancellationToken.None));
        Assert.True(await two.ResponseStream.MoveNext(CancellationToken.None));

        using var three = _host.Log.Tail(new TailRequest { Topic = "tailed" });
        var refused = await Assert.ThrowsAsync<RpcException>(() => three.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("Storage:MaxTailStreams", refused.Status.Detail, StringComparison.Ordinal);

        // Closing one gives its place back (once the server has seen it go).
        await first.CancelAsync();
        await WaitUntilAsync(async () =>
        {
            try
            {
                using var probe = _host.Log.Tail(new TailRequest { Topic = "tailed", Offset = 0 });
                return await probe.ResponseStream.MoveNext(CancellationToken.None);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                return false;
            }
        });
    }

    [Fact]
    public async Task Committed_metadata_past_its_limit_is_refused_naming_the_setting()
    {
        await _host.CreateTopicAsync("committed", 1);
        var request = new CommitOffsetsRequest { Group = "g", Topic = "committed" };
        request.Offsets.Add(new GroupOffset { Partition = 0, Offset = 1, Metadata = new string('m', 4097) });

        var refused = await Assert.ThrowsAsync<RpcException>(() => _host.Log.CommitOffsetsAsync(request, Timeout).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("Storage:MaxOffsetMetadataBytes) is 4096", refused.Status.Detail, StringComparison.Ordinal);
        request.Offsets[0].Metadata = new string('m', 4096);
        await _host.Log.CommitOffsetsAsync(request, Timeout);
        Assert.Equal(4096, (await _host.Log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "g", Topic = "committed" }, Timeout)).Offsets[0].Metadata.Length);
    }

    [Fact]
    public async Task An_append_stream_with_more_requests_than_its_in_flight_limit_answers_every_one()
    {
        await _host.CreateTopicAsync("streamed", 4);
        using var call = _host.Log.AppendStream(Timeout);
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await call.RequestStream.WriteAsync(new AppendRequest
                {
                    RequestId = (ulong)i,
                    Topic = "streamed",
                    Partition = i % 4,
                    Batch = ByteString.CopyFrom(TestBatches.Build([$"r{i}"])),
                });
            }
            await call.RequestStream.CompleteAsync();
        });

        var answers = new List<AppendResponse>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            answers.Add(call.ResponseStream.Current);
        }
        await sending;

        Assert.Equal(Enumerable.Range(0, 200).Select(i => (ulong)i), answers.Select(a => a.RequestId).Order());
        Assert.All(answers, a => Assert.Equal(0, a.StatusCode));
        var described = await _host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "streamed" }, Timeout);
        Assert.All(described.Partitions, p => Assert.Equal(50, p.EndOffset));
    }

    [Fact]
    public async Task Finding_an_offset_by_time_in_a_long_hot_tier_looks_through_it_in_bounded_steps()
    {
        await _host.CreateTopicAsync("long", 1);
        // More batches than one script call looks through (1024), appended in timestamp order.
        for (var i = 0; i < 3000; i++)
        {
            await _host.Log.AppendAsync(new AppendRequest
            {
                Topic = "long",
                Batch = ByteString.CopyFrom(TestBatches.Build([$"r{i}"], timestamp: 10_000 + i)),
            }, Timeout);
        }

        foreach (var at in new[] { 0, 1023, 1024, 2500, 2999 })
        {
            var found = await _host.Log.FindOffsetAsync(new FindOffsetRequest { Topic = "long", Timestamp = 10_000 + at }, Timeout);
            Assert.True(found.Found);
            Assert.Equal((at, 10_000L + at), (found.Offset, found.Timestamp));
        }
        var past = await _host.Log.FindOffsetAsync(new FindOffsetRequest { Topic = "long", Timestamp = 20_000 }, Timeout);
        Assert.Equal((false, 3000L), (past.Found, past.Offset));
    }

    private async Task Append(string topic, string value) =>
        await _host.Log.AppendAsync(new AppendRequest { Topic = topic, Batch = ByteString.CopyFrom(TestBatches.Build([value])) }, Timeout);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 20 s");
            await Task.Delay(50);
        }
    }
}
