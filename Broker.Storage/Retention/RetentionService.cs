using Broker.Storage.HotTier;
using Broker.Storage.Telemetry;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Retention;

/// <summary>
/// Applies each topic's retention (time and bytes) to its partitions on a timer: the oldest whole batches
/// go, the start offset moves up, the end offset never moves. Every Storage instance may run it at
/// once; the trim script is atomic per partition, so they cannot remove a batch twice.
/// </summary>
public sealed class RetentionService(
    ITopicStore topics, IHotTier hotTier, StorageMetrics metrics, TimeProvider time,
    IOptions<StorageOptions> options, ILogger<RetentionService> logger) : BackgroundService
{
    private readonly StorageOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.RetentionCheckIntervalSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                StorageLog.RetentionFailed(logger, ex);
            }
        }
    }

    /// <summary>One pass over every topic and partition; answers how many batches were removed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var topic in await topics.ListAsync(cancellationToken))
        {
            if (topic.RetentionMs < 0 && topic.RetentionBytes < 0)
            {
                continue;
            }
            var minTimestamp = topic.RetentionMs < 0 ? -1 : now - topic.RetentionMs;
            for (var p = 0; p < topic.Partitions; p++)
            {
                var result = await hotTier.TrimAsync(topic, p, minTimestamp, topic.RetentionBytes, _options.RetentionBatchesPerPass, cancellationToken);
                if (result.BatchesRemoved > 0)
                {
                    removed += result.BatchesRemoved;
                    metrics.RetentionRemoved(topic.Name, result.BatchesRemoved);
                    StorageLog.RetentionTrimmed(logger, topic.Name, p, result.BatchesRemoved, result.StartOffset);
                }
            }
        }
        return removed;
    }
}
