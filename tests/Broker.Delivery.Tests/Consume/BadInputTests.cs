using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Delivery;
using Broker.Delivery.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc;

namespace Broker.Delivery.Tests.Consume;

[Collection(RedisCollection.Name)]
public sealed class BadInputTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private BrokerCluster _cluster = null!;
    private DeliveryNode _node = null!;

    public async Task InitializeAsync()
    {
        _cluster = BrokerCluster.Start(redis.ConnectionString, redis.NewPrefix("bad"));
        _node = _cluster.StartDelivery();
        await _cluster.CreateTopicAsync("real", partitions: 1);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _timeout.Dispose();
    }

    [Theory]
    [InlineData(0, "window")]
    [InlineData(-3, "window")]
    [InlineData(1_000_000, "window")]
    public async Task A_grpc_subscription_with_a_bad_window_is_refused(int window, string field)
    {
        var error = await SubscribeErrorAsync(new Subscribe { Group = "g", Topic = "real", Window = window });
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Fact]
    public async Task A_grpc_subscription_to_a_missing_topic_or_with_a_bad_group_is_refused()
    {
        var missing = await SubscribeErrorAsync(new Subscribe { Group = "g", Topic = "nowhere", Window = 10 });
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("'nowhere' does not exist", missing.Status.Detail);

        var badGroup = await SubscribeErrorAsync(new Subscribe { Group = "no spaces", Topic = "real", Window = 10 });
        Assert.Equal(StatusCode.InvalidArgument, badGroup.StatusCode);
        Assert.Contains("group name", badGroup.Status.Detail);
    }

    [Fact]
    public async Task A_grpc_stream_that_does_not_start_with_subscribe_is_refused()
    {
        using var call = _node.Client.Subscribe(cancellationToken: _timeout.Token);
        await call.RequestStream.WriteAsync(new SubscribeRequest { Acks = new Acks { Ack = { "x.0.0.1" } } });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(_timeout.Token));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("first message", error.Status.Detail);
    }

    [Fact]
    public async Task Acks_of_unknown_or_malformed_delivery_ids_on_a_stream_are_answered_with_errors_and_the_stream_goes_on()
    {
        var ct = _timeout.Token;
        var consumer = await TestConsumer.StartAsync("c", _node.Client, new Subscribe { Group = "g", Topic = "real", Window = 10, Start = StartPosition.Earliest },
            cancellationToken: ct);
        await Wait.UntilAsync(() => consumer.Partitions.Count == 1, TimeSpan.FromSeconds(10), () => "an assignment");
        await consumer.AckAsync($"{consumer.MemberId}.0.12345.1", "not-an-id");
        await Wait.UntilAsync(() => consumer.AckErrors.Count == 2, TimeSpan.FromSeconds(10), () => "two ack errors");
        var errors = consumer.AckErrors.ToList();
        Assert.Equal((int)StatusCode.NotFound, errors.Single(e => e.DeliveryId.EndsWith(".12345.1", StringComparison.Ordinal)).StatusCode);
        Assert.Contains("unknown", errors[0].Message);
        Assert.Equal((int)StatusCode.InvalidArgument, errors.Single(e => e.DeliveryId == "not-an-id").StatusCode);

        // Still alive: a record produced now is delivered.
        await _cluster.ProduceAsync("real", [(null, "after the errors")], cancellationToken: ct);
        await Wait.UntilAsync(() => consumer.Deliveries.Any(d => d.Value == "after the errors"), TimeSpan.FromSeconds(10), () => "the record after the errors");
        await consumer.DisposeAsync();
    }

    [Fact]
    public async Task Http_polls_and_acks_with_bad_input_are_problems_that_say_what_is_wrong()
    {
        var ct = _timeout.Token;
        var missing = await ProblemAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/nowhere/poll", new { }, ct), HttpStatusCode.NotFound);
        Assert.Contains("'nowhere' does not exist", missing.Detail);

        var window = await ValidationAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/real/poll", new { window = 0 }, ct));
        Assert.Contains("window", window.Errors.Keys);
        var several = await ValidationAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/real/poll", new { maxRecords = 0, waitMs = -1, mode = "random", start = "middle" }, ct));
        Assert.Equal(["maxRecords", "mode", "start", "waitMs"], several.Errors.Keys.Order());

        var malformedJson = await ProblemAsync(await _node.Http.PostAsync("/v1/groups/g/topics/real/poll", new StringContent("{\"window\":", System.Text.Encoding.UTF8, "application/json"), ct), HttpStatusCode.BadRequest);
        Assert.False(string.IsNullOrEmpty(malformedJson.Detail));

        var empty = await ValidationAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/real/acks", new { }, ct));
        Assert.Contains("ack", empty.Errors.Keys);
        var malformed = await ValidationAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/real/acks", new { ack = new[] { "nonsense" } }, ct));
        Assert.Contains("not a delivery id", malformed.Errors["ack"][0]);
        var unknown = await ProblemAsync(await _node.Http.PostAsJsonAsync("/v1/groups/g/topics/real/acks", new { ack = new[] { "abcdef12-9.0.0.1" } }, ct), HttpStatusCode.NotFound);
        Assert.Contains("nothing was acknowledged", unknown.Title);

        var noGroup = await ProblemAsync(await _node.Http.GetAsync("/v1/groups/never-seen", ct), HttpStatusCode.NotFound);
        Assert.Contains("never-seen", noGroup.Detail);
    }

    [Fact]
    public async Task An_http_ack_naming_one_unknown_id_applies_none_of_the_others()
    {
        var ct = _timeout.Token;
        await _cluster.ProduceAsync("real", [(null, "one"), (null, "two")], cancellationToken: ct);
        using var poll = await _node.Http.PostAsJsonAsync("/v1/groups/strict/topics/real/poll", new { start = "earliest", waitMs = 5000 }, ct);
        var records = (await poll.Content.ReadFromJsonAsync<Apis.PollResponse>(ct))!.Records;
        Assert.NotEmpty(records);
        var unknown = await ProblemAsync(await _node.Http.PostAsJsonAsync("/v1/groups/strict/topics/real/acks",
            new { ack = records.Select(r => r.DeliveryId).Append($"{records[0].DeliveryId}9") }, ct), HttpStatusCode.NotFound);
        Assert.Contains("unknown", unknown.Detail);
        // The known ids were not used up: they can still be acked.
        using var again = await _node.Http.PostAsJsonAsync("/v1/groups/strict/topics/real/acks", new { ack = records.Select(r => r.DeliveryId) }, ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(records.Count, (await again.Content.ReadFromJsonAsync<Apis.AckResponse>(ct))!.Acked);
    }

    private async Task<RpcException> SubscribeErrorAsync(Subscribe subscribe)
    {
        using var call = _node.Client.Subscribe(cancellationToken: _timeout.Token);
        await call.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = subscribe });
        return await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(_timeout.Token));
    }

    private static async Task<ProblemDetails> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        using (response)
        {
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            return (await response.Content.ReadFromJsonAsync<ProblemDetails>())!;
        }
    }

    private static async Task<ValidationProblemDetails> ValidationAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>())!;
        }
    }
}
