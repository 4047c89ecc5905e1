using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Storage.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Storage.Tests.Log;

/// <summary>
/// An acknowledged batch survives Redis going down: SHUTDOWN (which flushes the AOF) and a restart on
/// the same data directory, with Storage running throughout and reconnecting by itself.
/// </summary>
public sealed class RedisRestartTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private RedisServerProcess? _redis;

    public async Task InitializeAsync() => _redis = await RedisServerProcess.StartAsync(_timeout.Token);

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _timeout.Dispose();
    }

    [Fact]
    public async Task Shutdown_and_restart_of_redis_loses_no_acknowledged_batch()
    {
        var ct = _timeout.Token;
        await using var host = StorageHost.Start(_redis!.ConnectionString, "restart");
        await host.CreateTopicAsync("durable", partitions: 3);

        var acked = new List<(int Partition, long BaseOffset, string First)>();
        for (var b = 0; b < 60; b++)
        {
            var partition = b % 3;
            var values = Enumerable.Range(0, 50).Select(i => $"b{b}-r{i}").ToArray();
            var response = await host.Log.AppendAsync(new AppendRequest
            {
                Topic = "durable",
                Partition = partition,
                Batch = ByteString.CopyFrom(Build(values, producerId: 5, baseSequence: b / 3 * 50)),
            }, cancellationToken: ct);
            acked.Add((partition, response.BaseOffset, values[0]));
        }

        await _redis.ShutdownAsync();
        await _redis.RestartAsync(ct);

        // Storage reconnects on its own; the first calls may still see the outage as UNAVAILABLE.
        var described = await Eventually(() => host.Log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "durable" }, cancellationToken: ct).ResponseAsync, ct);
        Assert.Equal([1000L, 1000L, 1000L], described.Partitions.Select(p => p.EndOffset));

        foreach (var (partition, baseOffset, first) in acked)
        {
            var read = await host.Log.ReadAsync(new ReadRequest { Topic = "durable", Partition = partition, Offset = baseOffset, MaxBytes = 1 }, cancellationToken: ct);
            var batch = RecordBatch.Validate(read.Batches[0].Memory);
            Assert.Equal(baseOffset, batch.BaseOffset);
            foreach (var record in batch.GetRecords())
            {
                Assert.Equal(first, Encoding.UTF8.GetString(record.Value.Span));
                break;
            }
        }

        // The producer's state survived too: a retry of its last batch is still a duplicate.
        var lastValues = Enumerable.Range(0, 50).Select(i => $"b59-r{i}").ToArray();
        var retry = await host.Log.AppendAsync(new AppendRequest
        {
            Topic = "durable",
            Partition = 2,
            Batch = ByteString.CopyFrom(Build(lastValues, producerId: 5, baseSequence: 59 / 3 * 50)),
        }, cancellationToken: ct);
        Assert.True(retry.Duplicate);
        Assert.Equal(acked[59].BaseOffset, retry.BaseOffset);

        // And the log goes on densely after the restart.
        var after = await host.Log.AppendAsync(new AppendRequest { Topic = "durable", Partition = 0, Batch = ByteString.CopyFrom(Build(["after"])) }, cancellationToken: ct);
        Assert.Equal(1000, after.BaseOffset);
    }

    private static byte[] Build(IEnumerable<string> values, long producerId = -1, int baseSequence = -1) =>
        TestBatches.Build(values, producerId, baseSequence, timestamp: 1);

    private static async Task<T> Eventually<T>(Func<Task<T>> call, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(100, ct);
            }
        }
    }
}
