using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Storage.Tests.Hosting;
using Grpc.Core;
using static Broker.Storage.Tests.Replication.ReplicationSetup;

namespace Broker.Storage.Tests.Replication;

/// <summary>
/// acks=replicas on a real primary and replica: what Storage acknowledged is on the replica, so it survives the primary's
/// death once the replica is promoted; with no replica confirming, the append is refused as retriable within the timeout,
/// and the producer's retry neither fails nor writes twice. acks=leader does not wait behind it.
/// </summary>
public sealed class AcksReplicasTests : IAsyncLifetime
{
    private const int AckTimeoutMs = 3_000;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private ReplicationSetup? _redis;

    private static Dictionary<string, string> Settings => new()
    {
        ["Storage:MinInSyncReplicas"] = "1",
        ["Storage:ReplicaAckTimeoutMs"] = AckTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public async Task InitializeAsync() => _redis = await ReplicationSetup.StartAsync(_timeout.Token);

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _timeout.Dispose();
    }

    [Fact]
    public async Task Acknowledged_records_survive_the_primary_killed_right_after_the_ack_on_the_promoted_replica()
    {
        var ct = _timeout.Token;
        var redis = _redis!;
        var acked = new List<(long BaseOffset, string[] Values)>();
        await using (var host = StorageHost.Start(ConnectionString(redis.Primary), "acks", Settings))
        {
            await host.CreateTopicAsync("payments", new { partitions = 1, acks = "replicas" });
            var described = await host.Http.GetFromJsonAsync<JsonElement>("/v1/topics/payments", ct);
            Assert.Equal("replicas", described.GetProperty("acks").GetString());

            // Many producers at once: their appends are confirmed in groups, each acknowledged one on the replica.
            var appends = Enumerable.Range(0, 40).Select(async producer =>
            {
                var values = Enumerable.Range(0, 5).Select(i => $"p{producer}-r{i}").ToArray();
                var response = await AppendAsync(host, "payments", 0, Batch(values, producerId: 100 + producer, baseSequence: 0), ct);
                return (response.BaseOffset, values);
            }).ToArray();
            acked.AddRange(await Task.WhenAll(appends));
            Assert.All(acked, a => Assert.InRange(a.BaseOffset, 0, 195));

            // A crash right after the last ack: no SHUTDOWN, no last AOF fsync.
            await redis.Primary.KillAsync();
        }

        Assert.StartsWith("OK", await redis.Replica.CommandAsync(ct, "REPLICAOF", "NO", "ONE"), StringComparison.Ordinal);
        await using var promoted = StorageHost.Start(ConnectionString(redis.Replica), "acks", Settings);
        var read = await RetryWhileUnavailableAsync(() => ReadAllAsync(promoted, "payments", 0, ct), ct);
        Assert.Equal(200, read.Count);
        foreach (var (baseOffset, values) in acked)
        {
            Assert.Equal(values, read.Skip((int)baseOffset).Take(values.Length));
        }
    }

    [Fact]
    public async Task Without_a_confirming_replica_the_append_is_refused_as_retriable_and_its_retry_is_not_written_twice()
    {
        var ct = _timeout.Token;
        var redis = _redis!;
        await using var host = StorageHost.Start(ConnectionString(redis.Primary), "acks-down", Settings);
        await host.CreateTopicAsync("orders", new { partitions = 1, acks = "replicas" });
        await host.CreateTopicAsync("clicks", new { partitions = 1 });
        var first = await AppendAsync(host, "orders", 0, Batch(["first"], producerId: 7, baseSequence: 0), ct);
        Assert.Equal(0, first.BaseOffset);

        // The replica hangs (its connection stays open, it acknowledges nothing): the primary alone has what follows.
        await redis.Replica.PauseAsync();
        var second = Batch(["second"], producerId: 7, baseSequence: 1);
        var started = Stopwatch.StartNew();
        var refused = AppendAsync(host, "orders", 0, second, ct);

        // acks=leader appends do not wait behind the replicas' WAIT: answered while the acks=replicas one still waits.
        var click = await AppendAsync(host, "clicks", 0, Batch(["click"], producerId: -1, baseSequence: -1), ct);
        Assert.Equal(0, click.BaseOffset);
        Assert.False(refused.IsCompleted, "the acks=replicas append was answered before its replica timeout");

        var error = await Assert.ThrowsAsync<RpcException>(() => refused);
        started.Stop();
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("Storage:MinInSyncReplicas", error.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(started.ElapsedMilliseconds, AckTimeoutMs - 100, AckTimeoutMs + 20_000);

        // The replica is back: the producer's retry of the same batch gets the offset the refused attempt took, once.
        await redis.Replica.ResumeAsync();
        await WaitForOnlineReplicaAsync(redis.Primary, ct);
        var retried = await AppendAsync(host, "orders", 0, second, ct);
        Assert.Equal(1, retried.BaseOffset);
        var next = await AppendAsync(host, "orders", 0, Batch(["third"], producerId: 7, baseSequence: 2), ct);
        Assert.Equal(2, next.BaseOffset);
        Assert.Equal(["first", "second", "third"], await ReadAllAsync(host, "orders", 0, ct));
    }

    [Fact]
    public async Task A_retry_after_the_refusal_is_confirmed_by_the_replicas_too_not_answered_from_the_primary_alone()
    {
        var ct = _timeout.Token;
        var redis = _redis!;
        await using var host = StorageHost.Start(ConnectionString(redis.Primary), "acks-retry", Settings);
        await host.CreateTopicAsync("ledger", new { partitions = 1, acks = "replicas" });
        await redis.Replica.PauseAsync();
        var batch = Batch(["entry"], producerId: 9, baseSequence: 0);
        var first = await Assert.ThrowsAsync<RpcException>(() => AppendAsync(host, "ledger", 0, batch, ct));
        Assert.Equal(StatusCode.Unavailable, first.StatusCode);

        // Still no replica: the retry finds the batch on the primary, but that is not an acknowledgement.
        var again = await Assert.ThrowsAsync<RpcException>(() => AppendAsync(host, "ledger", 0, batch, ct));
        Assert.Equal(StatusCode.Unavailable, again.StatusCode);

        await redis.Replica.ResumeAsync();
        var confirmed = await AppendAsync(host, "ledger", 0, batch, ct);
        Assert.Equal(0, confirmed.BaseOffset);
        Assert.True(confirmed.Duplicate);
        Assert.Equal(["entry"], await ReadAllAsync(host, "ledger", 0, ct));
    }
}

/// <summary>The acks setting through the topics API: shown, changed, and a bad value refused naming the field.</summary>
public sealed class AcksSettingTests
{
    [Fact]
    public async Task An_invalid_acks_value_is_refused_with_a_problem_naming_the_field_and_the_values()
    {
        await using var host = StorageHost.Start(redisConnectionString: null, "acks-setting");
        using var response = await host.Http.PutAsJsonAsync("/v1/topics/bad-acks", new { acks = "all" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var message = problem.GetProperty("errors").GetProperty("acks")[0].GetString();
        Assert.Contains("leader", message, StringComparison.Ordinal);
        Assert.Contains("replicas", message, StringComparison.Ordinal);
        Assert.Contains("'all'", message, StringComparison.Ordinal);
        using var missing = await host.Http.GetAsync("/v1/topics/bad-acks");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_topic_shows_acks_leader_by_default_and_acks_replicas_is_refused_without_redis()
    {
        await using var host = StorageHost.Start(redisConnectionString: null, "acks-setting");
        await host.CreateTopicAsync("plain", new { partitions = 1 });
        var plain = await host.Http.GetFromJsonAsync<JsonElement>("/v1/topics/plain");
        Assert.Equal("leader", plain.GetProperty("acks").GetString());

        // In process memory there is no replica to confirm anything: said at once, not at every append.
        using var refused = await host.Http.PutAsJsonAsync("/v1/topics/plain", new { acks = "replicas" });
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("acks=replicas needs the Redis hot tier", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var after = await host.Http.GetFromJsonAsync<JsonElement>("/v1/topics/plain");
        Assert.Equal("leader", after.GetProperty("acks").GetString());
    }
}
