using System.ComponentModel.DataAnnotations;

namespace Broker.Delivery.Replays;

/// <summary>How replay jobs run, bound from "Delivery:Replay".</summary>
public sealed class ReplayOptions
{
    public const string SectionName = "Delivery:Replay";

    /// <summary>How often each instance looks for jobs nobody runs (new ones, or ones whose instance died).</summary>
    [Range(10, 600_000)]
    public int PollIntervalMs { get; set; } = 1_000;

    /// <summary>How long a job stays with an instance that stopped renewing it: how soon another resumes a dead instance's job.</summary>
    [Range(500, 600_000)]
    public int LeaseMs { get; set; } = 10_000;

    /// <summary>How often a running job writes its progress (a restart repeats at most this much work, which the targets absorb).</summary>
    [Range(10, 600_000)]
    public int ProgressIntervalMs { get; set; } = 1_000;

    /// <summary>Bytes per read from Storage; two reads per partition are kept under way.</summary>
    [Range(64 * 1024, 64 * 1024 * 1024)]
    public int ReadBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Partitions of one job replayed at once.</summary>
    [Range(1, 256)]
    public int PartitionConcurrency { get; set; } = 4;

    /// <summary>Jobs one instance runs at once.</summary>
    [Range(1, 256)]
    public int MaxRunningJobs { get; set; } = 4;

    /// <summary>The highest rate limit a job may ask for (records per second).</summary>
    [Range(1, int.MaxValue)]
    public int MaxRateLimit { get; set; } = 10_000_000;

    /// <summary>How long one POST to an HTTP target may take.</summary>
    [Range(100, 600_000)]
    public int HttpTimeoutMs { get; set; } = 10_000;
}
