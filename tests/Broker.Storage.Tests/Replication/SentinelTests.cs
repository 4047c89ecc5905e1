using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Storage.Tests.Hosting;
using Broker.Testing;
using static Broker.Storage.Tests.Replication.ReplicationSetup;

namespace Broker.Storage.Tests.Replication;

/// <summary>
/// Storage connected through Redis Sentinel (<c>serviceName=</c> in ConnectionStrings:redis) follows a failover: after
/// <c>SENTINEL FAILOVER</c> it appends to the promoted replica, densely after what it acknowledged before.
/// </summary>
public sealed class SentinelTests : IAsyncLifetime
{
    private const string ServiceName = "brokermaster";
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));
    private ReplicationSetup? _redis;
    private RedisServerProcess? _sentinel;

    public async Task InitializeAsync()
    {
        _redis = await ReplicationSetup.StartAsync(_timeout.Token);
        _sentinel = await RedisServerProcess.StartSentinelAsync(ServiceName, _redis.Primary.Port, _timeout.Token);
        // Sentinel learns the replica from the primary's INFO; a failover needs it.
        while (!(await _sentinel.CommandAsync(_timeout.Token, "SENTINEL", "REPLICAS", ServiceName))
                   .Contains(_redis.Replica.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))
        {
            await Task.Delay(200, _timeout.Token);
        }
    }

    public async Task DisposeAsync()
    {
        if (_sentinel is not null)
        {
            await _sentinel.DisposeAsync();
        }
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _timeout.Dispose();
    }

    [Fact]
    public async Task Storage_connected_through_sentinel_keeps_appending_after_a_failover()
    {
        var ct = _timeout.Token;
        var redis = _redis!;
        var sentinel = _sentinel!;
        await using var host = StorageHost.Start($"127.0.0.1:{sentinel.Port},serviceName={ServiceName},abortConnect=false", "sentinel",
            new Dictionary<string, string> { ["Storage:ReplicaAckTimeoutMs"] = "3000" });
        await host.CreateTopicAsync("events", new { partitions = 1 });
        await host.CreateTopicAsync("audit", new { partitions = 1 });
        using (var altered = await host.Http.PutAsJsonAsync("/v1/topics/audit", new { acks = "replicas" }, ct))
        {
            altered.EnsureSuccessStatusCode();
            Assert.Equal("replicas", (await altered.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("acks").GetString());
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i, (await AppendAsync(host, "events", 0, Batch([$"before-{i}"], producerId: 1, baseSequence: i), ct)).BaseOffset);
            Assert.Equal(i, (await AppendAsync(host, "audit", 0, Batch([$"before-{i}"], producerId: 2, baseSequence: i), ct)).BaseOffset);
        }

        // acks=replicas appends go on throughout the failover, retried while Storage answers UNAVAILABLE, as a producer does.
        using var stop = new CancellationTokenSource();
        var audit = Task.Run(async () =>
        {
            var acked = new List<(long Offset, string Value)>();
            for (var i = 5; !stop.IsCancellationRequested || i < 15; i++)
            {
                var batch = Batch([$"audit-{i}"], producerId: 2, baseSequence: i);
                var response = await RetryWhileUnavailableAsync(() => AppendAsync(host, "audit", 0, batch, ct), ct);
                acked.Add((response.BaseOffset, $"audit-{i}"));
            }
            return acked;
        }, ct);

        Assert.StartsWith("OK", await sentinel.CommandAsync(ct, "SENTINEL", "FAILOVER", ServiceName), StringComparison.Ordinal);
        var replicaPort = redis.Replica.Port.ToString(CultureInfo.InvariantCulture);
        while (!(await sentinel.CommandAsync(ct, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", ServiceName)).EndsWith(replicaPort, StringComparison.Ordinal))
        {
            await Task.Delay(200, ct);
        }
        Assert.Contains("role:master", await redis.Replica.CommandAsync(ct, "INFO", "replication"), StringComparison.Ordinal);
        // Until Sentinel has made the old primary a replica of the new one, it still takes writes that the resync then drops:
        // the window in which acks=leader can lose an acknowledged append (docs/reliability.md). The acks=leader topic's
        // appends wait for it to close; the acks=replicas ones above ran through it.
        while (await redis.Primary.CommandAsync(ct, "INFO", "replication") is var info
               && !(info.Contains("role:slave", StringComparison.Ordinal) && info.Contains("master_link_status:up", StringComparison.Ordinal)))
        {
            await Task.Delay(200, ct);
        }

        // Appends go on against the new primary, with no gap and nothing twice (retries while the connection moves over).
        for (var i = 5; i < 10; i++)
        {
            var batch = Batch([$"after-{i}"], producerId: 1, baseSequence: i);
            Assert.Equal(i, (await RetryWhileUnavailableAsync(() => AppendAsync(host, "events", 0, batch, ct), ct)).BaseOffset);
        }
        await stop.CancelAsync();
        var auditAcked = await audit;

        string[] expected = [.. Enumerable.Range(0, 5).Select(i => $"before-{i}"), .. Enumerable.Range(5, 5).Select(i => $"after-{i}")];
        Assert.Equal(expected, await RetryWhileUnavailableAsync(() => ReadAllAsync(host, "events", 0, ct), ct));
        // Every acknowledged acks=replicas append is there, once, at the offset it was acknowledged with.
        var auditLog = await RetryWhileUnavailableAsync(() => ReadAllAsync(host, "audit", 0, ct), ct);
        Assert.Equal([.. Enumerable.Range(0, 5).Select(i => $"before-{i}"), .. auditAcked.Select(a => a.Value)], auditLog);
        Assert.Equal(Enumerable.Range(5, auditAcked.Count).Select(i => (long)i), auditAcked.Select(a => a.Offset));

        // What Storage wrote after the failover is on the new primary (the old replica): its meta hash says so.
        var metaKey = await redis.Replica.CommandAsync(ct, "KEYS", "sentinel:*events*meta");
        Assert.DoesNotContain('\n', metaKey);
        Assert.Equal("10", await redis.Replica.CommandAsync(ct, "HGET", metaKey, "next"));
    }
}
