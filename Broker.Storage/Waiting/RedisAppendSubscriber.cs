using System.Globalization;
using StackExchange.Redis;

namespace Broker.Storage.Waiting;

/// <summary>
/// Feeds <see cref="AppendSignals"/> from the Redis channel every append script PUBLISHes to
/// ("topic partition endOffset"), so a reader waiting on this instance wakes for an append made through
/// any instance. One subscription per process, never a connection per waiter.
/// </summary>
internal sealed class RedisAppendSubscriber(
    IConnectionMultiplexer redis, RedisKeys keys, AppendSignals signals, ILogger<RedisAppendSubscriber> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await redis.GetSubscriber().SubscribeAsync(keys.Appends, (_, message) => OnMessage(message)).WaitAsync(cancellationToken);
        StorageLog.SubscribedToAppends(logger, keys.Appends.ToString());
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(keys.Appends).WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException
            || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            // Going away: a subscription connection that closed (or was disposed) first has unsubscribed us anyway, and
            // past the host's shutdown deadline the connection closes with the process.
            StorageLog.UnsubscribeFailed(logger, ex.Message);
        }
    }

    private void OnMessage(RedisValue message)
    {
        var text = ((string?)message).AsSpan();
        var lastSpace = text.LastIndexOf(' ');
        var partitionStart = lastSpace > 0 ? text[..lastSpace].LastIndexOf(' ') : -1;
        if (partitionStart <= 0
            || !int.TryParse(text[(partitionStart + 1)..lastSpace], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            return;
        }
        signals.Notify(text[..partitionStart].ToString(), partition);
    }
}
