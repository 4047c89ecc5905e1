using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using Broker.ServiceDefaults.Redis;
using Broker.Storage.Log;
using Broker.Storage.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Broker.Storage.HotTier;

/// <summary>
/// Appends to topics with acks=replicas, confirmed by Redis <c>WAIT numreplicas timeout</c> in groups: one loop takes
/// every append waiting (up to <see cref="MaxGroup"/>), sends their scripts and one WAIT behind them as one pipelined
/// batch, and answers them all from that WAIT. WAIT counts replicas whose replication offset reached the connection's
/// last write, so one WAIT confirms every append the batch made before it; while it waits, the next group gathers.
/// </summary>
/// <remarks>
/// <para>WAIT blocks the connection it is sent on until it answers, and StackExchange.Redis multiplexes one connection
/// for every caller (its maintainers call blocking commands unsupported on it for that reason). So these appends and
/// their WAITs run on a dedicated multiplexer, opened on the first acks=replicas append: the shared one, which serves
/// acks=leader appends, reads and everything else, never waits behind a WAIT. WAIT must follow the writes on the same
/// connection, which is why the scripts go there too and not through the shared one.</para>
/// <para>A WAIT sent on a new connection after a reconnect counts from that connection's writes (none), so it could
/// confirm appends the old connection made and the replicas never got. The group is therefore refused when the
/// multiplexer opened a socket while it was under way (<see cref="ConnectionCounters.SocketCount"/>): a retry is then
/// answered from the log (idempotent producers) and confirmed by a WAIT of its own.</para>
/// <para>Redis Cluster is refused: WAIT has no key, so it cannot be routed to the primary that took a partition's append.</para>
/// </remarks>
internal sealed class ReplicatedAppends : IAsyncDisposable
{
    /// <summary>The most appends one WAIT confirms.</summary>
    public const int MaxGroup = 1024;

    /// <summary>Appends waiting for a group; past it, callers wait to be queued (each AppendStream bounds its own too).</summary>
    private const int MaxQueued = 16 * 1024;

#pragma warning disable CA5350 // SHA-1 is what Redis names scripts by, not a security measure.
    private static readonly byte[] s_appendSha1 = SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(HotTierScripts.Append));
#pragma warning restore CA5350

    private readonly BrokerRedisConnector _connector;
    private readonly StorageOptions _options;
    private readonly StorageMetrics _metrics;
    private readonly ILogger<ReplicatedAppends> _logger;
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(MaxQueued) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private ConnectionMultiplexer? _connection;

    public ReplicatedAppends(BrokerRedisConnector connector, IOptions<StorageOptions> options, StorageMetrics metrics, ILogger<ReplicatedAppends> logger)
    {
        _connector = connector;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>
    /// Runs the append script (<see cref="HotTierScripts.Append"/>, its ARGV[14] "1") and waits for the replicas. Throws what
    /// the script threw (NOPARTITION) or what Redis did when the group could not be sent.
    /// </summary>
    public async Task<(RedisResult Result, ReplicaConfirmation Confirmation)> AppendAsync(RedisKey[] keys, RedisValue[] values, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var pending = new Pending(keys, values);
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        // Given up on here, the append may still run: as every Redis command given up on (idempotent producers are safe).
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private void EnsureStarted()
    {
        if (_loop is not null)
        {
            return;
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            _loop ??= Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Pending>(MaxGroup);
        var again = new List<Pending>();
        try
        {
            while (again.Count > 0 || await reader.WaitToReadAsync(_stopping.Token))
            {
                group.Clear();
                group.AddRange(again);
                again.Clear();
                while (group.Count < MaxGroup && reader.TryRead(out var next))
                {
                    group.Add(next);
                }
                try
                {
                    var connection = await ConnectAsync();
                    await RunGroupAsync(connection, group, again);
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested)
                {
                    // This group is refused (a Redis outage is UNAVAILABLE, as on the shared connection); the loop goes on.
                    if (ex is not (RedisException or TimeoutException or LogException))
                    {
                        StorageLog.ReplicaAckLoopFailed(_logger, ex);
                    }
                    foreach (var pending in group)
                    {
                        pending.Completion.TrySetException(ex);
                    }
                    again.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down: what is left is refused below.
        }
        finally
        {
            var stopped = new LogException(LogError.NotEnoughReplicas, "Storage is stopping; the append was not confirmed by replicas. Retry.");
            foreach (var pending in group.Concat(again))
            {
                pending.Completion.TrySetException(stopped);
            }
            while (reader.TryRead(out var left))
            {
                left.Completion.TrySetException(stopped);
            }
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        if (_connection is { } open)
        {
            return open;
        }
        // A WAIT may hold its answer for ReplicaAckTimeoutMs, and the group's scripts answer only as fast: the dedicated
        // connection's command timeout allows for that on top of the usual one.
        var connection = await _connector.ConnectAsync("replica-acks", o =>
        {
            o.AsyncTimeout += _options.ReplicaAckTimeoutMs;
            o.SyncTimeout += _options.ReplicaAckTimeoutMs;
        });
        if (connection.GetServers().Any(s => s.ServerType == ServerType.Cluster))
        {
            await connection.DisposeAsync();
            throw new LogException(LogError.InvalidArgument,
                "acks=replicas is not supported on Redis Cluster (WAIT has no key to route it to the partition's primary); use acks=leader there.");
        }
        return _connection = connection;
    }

    private async Task RunGroupAsync(ConnectionMultiplexer connection, List<Pending> group, List<Pending> again)
    {
        var sockets = connection.GetCounters().Interactive.SocketCount;
        var started = Stopwatch.GetTimestamp();
        var batch = connection.GetDatabase().CreateBatch();
        var scripts = new Task<RedisResult>[group.Count];
        for (var i = 0; i < group.Count; i++)
        {
            var p = group[i];
            scripts[i] = p.BySource
                ? batch.ScriptEvaluateAsync(HotTierScripts.Append, p.Keys, p.Values, CommandFlags.DemandMaster)
                : batch.ScriptEvaluateAsync(s_appendSha1, p.Keys, p.Values, CommandFlags.DemandMaster);
        }
        var wait = batch.ExecuteAsync("WAIT", [_options.MinInSyncReplicas, _options.ReplicaAckTimeoutMs], CommandFlags.DemandMaster);
        batch.Execute();

        long confirmed = -1;
        Exception? waitFailure = null;
        try
        {
            confirmed = (long)await wait;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            waitFailure = ex;
        }
        var reconnected = connection.GetCounters().Interactive.SocketCount != sockets;
        var confirmation = new ReplicaConfirmation(
            waitFailure is null && !reconnected && confirmed >= _options.MinInSyncReplicas, Math.Max(confirmed, 0), _options.MinInSyncReplicas,
            reconnected ? "the connection to Redis was re-opened meanwhile"
            : waitFailure is not null ? "WAIT failed: " + waitFailure.Message
            : $"{confirmed} confirmed within {_options.ReplicaAckTimeoutMs} ms (Storage:ReplicaAckTimeoutMs)");

        var answered = 0;
        for (var i = 0; i < group.Count; i++)
        {
            RedisResult result;
            try
            {
                result = await scripts[i];
            }
            catch (RedisServerException ex) when (!group[i].BySource && ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                // The server does not hold the script (restarted, or a new primary): nothing was written; the next group sends its source.
                group[i].BySource = true;
                again.Add(group[i]);
                continue;
            }
            catch (Exception ex)
            {
                group[i].Completion.TrySetException(ex);
                continue;
            }
            answered++;
            group[i].Completion.TrySetResult((result, confirmation));
        }

        _metrics.ReplicaWait(group.Count, Stopwatch.GetElapsedTime(started));
        if (!confirmation.Confirmed && answered > 0)
        {
            if (reconnected || waitFailure is not null)
            {
                _metrics.ReplicaWaitFailed("reconnected");
                StorageLog.ReplicaAckReconnected(_logger, answered);
            }
            else
            {
                _metrics.ReplicaWaitFailed("timeout");
                StorageLog.ReplicaAckTimeout(_logger, confirmed, _options.MinInSyncReplicas, answered, _options.ReplicaAckTimeoutMs);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }
            _stopping.Cancel();
            _queue.Writer.TryComplete();
            loop = _loop;
        }
        if (loop is not null)
        {
            try
            {
                await loop;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Logged by the loop.
            }
        }
        if (_connection is { } connection)
        {
            await connection.DisposeAsync();
        }
        _stopping.Dispose();
    }

    private sealed class Pending(RedisKey[] keys, RedisValue[] values)
    {
        public RedisKey[] Keys => keys;
        public RedisValue[] Values => values;

        /// <summary>Send the script's source (EVAL), not its hash: the server answered NOSCRIPT to the hash.</summary>
        public bool BySource { get; set; }

        public TaskCompletionSource<(RedisResult, ReplicaConfirmation)> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>What the replicas said of an acks=replicas append: <see cref="Confirmed"/> when at least <see cref="Required"/> had it.</summary>
public readonly record struct ReplicaConfirmation(bool Confirmed, long Replicas, int Required, string Detail);
