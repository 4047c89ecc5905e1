using System.Globalization;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Storage.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Storage.Tests.Replication;

/// <summary>
/// A primary redis-server and a replica of it (<c>--replicaof</c>), each a real process of its own, and the calls the
/// replication tests share. Storage connects without allowAdmin, as in production.
/// </summary>
public sealed class ReplicationSetup : IAsyncDisposable
{
    private ReplicationSetup(RedisServerProcess primary, RedisServerProcess replica)
    {
        Primary = primary;
        Replica = replica;
    }

    public RedisServerProcess Primary { get; }

    public RedisServerProcess Replica { get; }

    public static async Task<ReplicationSetup> StartAsync(CancellationToken ct)
    {
        var primary = await RedisServerProcess.StartAsync(ct);
        try
        {
            var replica = await RedisServerProcess.StartAsync(ct,
                extraArguments: ["--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)]);
            var setup = new ReplicationSetup(primary, replica);
            await WaitForOnlineReplicaAsync(primary, ct);
            return setup;
        }
        catch
        {
            await primary.DisposeAsync();
            throw;
        }
    }

    /// <summary>Storage's connection string for a server: what an operator would write (no allowAdmin).</summary>
    public static string ConnectionString(RedisServerProcess server) =>
        $"127.0.0.1:{server.Port.ToString(CultureInfo.InvariantCulture)},abortConnect=false";

    /// <summary>Until the primary reports a replica in sync ("state=online").</summary>
    public static async Task WaitForOnlineReplicaAsync(RedisServerProcess primary, CancellationToken ct)
    {
        while (!(await primary.CommandAsync(ct, "INFO", "replication")).Contains("state=online", StringComparison.Ordinal))
        {
            await Task.Delay(100, ct);
        }
    }

    public static byte[] Batch(IEnumerable<string> values, long producerId, int baseSequence) =>
        TestBatches.Build(values, producerId, baseSequence, timestamp: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    public static Task<AppendResponse> AppendAsync(StorageHost host, string topic, int partition, byte[] batch, CancellationToken ct) =>
        host.Log.AppendAsync(new AppendRequest { Topic = topic, Partition = partition, Batch = ByteString.CopyFrom(batch) }, cancellationToken: ct).ResponseAsync;

    /// <summary>Every record's value in the partition from offset 0 on, in order.</summary>
    public static async Task<List<string>> ReadAllAsync(StorageHost host, string topic, int partition, CancellationToken ct)
    {
        var values = new List<string>();
        long offset = 0;
        while (true)
        {
            var read = await host.Log.ReadAsync(new ReadRequest { Topic = topic, Partition = partition, Offset = offset, MaxBytes = 1024 * 1024 }, cancellationToken: ct);
            if (read.Batches.Count == 0)
            {
                return values;
            }
            foreach (var batch in read.Batches)
            {
                foreach (var record in RecordBatch.Validate(batch.Memory).GetRecords())
                {
                    values.Add(Encoding.UTF8.GetString(record.Value.Span));
                    offset = record.Offset + 1;
                }
            }
        }
    }

    /// <summary>Calls again while Storage answers UNAVAILABLE (Redis down or failing over), as Ingest and the client do.</summary>
    public static async Task<T> RetryWhileUnavailableAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(200, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Replica.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
