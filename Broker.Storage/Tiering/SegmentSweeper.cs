using System.Globalization;
using Broker.Storage.Topics;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Tiering;

/// <summary>
/// Deletes segment objects that no manifest names: an upload whose manifest commit never came (a crash between the two,
/// or another instance committed first), an object whose delete failed after retention or a topic deletion. Every
/// Storage:Tiering:OrphanSweepIntervalMs it lists the store's segment names (prefix/topic/partition/base.seg), reads each
/// partition's manifest once, and deletes what is older than Storage:Tiering:OrphanGraceMs and not in it; names of any
/// other shape are not its own and are left alone.
/// </summary>
public sealed class SegmentSweeper(ColdTier cold, TopicRegistry topics, TimeProvider time, IOptions<TieringOptions> options, ILogger<SegmentSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.OrphanSweepIntervalMs), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                StorageLog.OrphanSweepFailed(logger, ex.Message);
            }
        }
    }

    /// <summary>One sweep; answers how many orphans it deleted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var prefix = cold.Reader.NamePrefix;
        var cutoff = time.GetUtcNow() - TimeSpan.FromMilliseconds(options.Value.OrphanGraceMs);
        // Per partition: the base offsets its manifest names, or null when the partition does not exist (any more).
        var manifests = new Dictionary<(string Topic, int Partition), HashSet<long>?>();
        var looked = 0;
        var deleted = 0;
        await foreach (var item in cold.Store.ListAsync(prefix, cancellationToken))
        {
            if (++looked > options.Value.MaxOrphanSweepObjects)
            {
                break;
            }
            if (item.LastModified > cutoff || !TryParse(item.Name.AsSpan(prefix.Length), out var topicName, out var partition, out var baseOffset))
            {
                continue;
            }
            if (!manifests.TryGetValue((topicName, partition), out var bases))
            {
                var topic = await topics.FindAsync(topicName, cancellationToken);
                bases = topic is null || partition >= topic.Partitions
                    ? null
                    : [.. (await cold.Manifest.ListAsync(topic, partition, cancellationToken)).Select(s => s.BaseOffset)];
                manifests[(topicName, partition)] = bases;
            }
            if (bases is not null && bases.Contains(baseOffset))
            {
                continue;
            }
            await cold.Store.DeleteAsync(item.Name, cancellationToken);
            cold.Metrics.OrphanDeleted();
            StorageLog.OrphanDeleted(logger, item.Name, item.LastModified,
                bases is null ? $"topic {topicName} has no partition {partition}" : $"the manifest of {topicName}/{partition} does not name it");
            deleted++;
        }
        StorageLog.OrphanSweepDone(logger, Math.Min(looked, options.Value.MaxOrphanSweepObjects), deleted);
        return deleted;
    }

    /// <summary>"topic/partition/00000000000000000042.seg" → its parts; false for any other shape.</summary>
    private static bool TryParse(ReadOnlySpan<char> name, out string topic, out int partition, out long baseOffset)
    {
        topic = "";
        partition = -1;
        baseOffset = -1;
        var first = name.IndexOf('/');
        if (first <= 0)
        {
            return false;
        }
        var rest = name[(first + 1)..];
        var second = rest.IndexOf('/');
        if (second <= 0 || !int.TryParse(rest[..second], NumberStyles.None, CultureInfo.InvariantCulture, out partition))
        {
            return false;
        }
        var file = rest[(second + 1)..];
        if (file.Length != 24 || !file.EndsWith(".seg", StringComparison.Ordinal)
            || !long.TryParse(file[..20], NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset))
        {
            return false;
        }
        topic = name[..first].ToString();
        return TopicValidation.CheckName(topic) is null;
    }
}
