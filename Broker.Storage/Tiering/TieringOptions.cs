using System.ComponentModel.DataAnnotations;

namespace Broker.Storage.Tiering;

/// <summary>When batches move from the hot tier to segments, and how segments are read back; bound from "Storage:Tiering".</summary>
public sealed class TieringOptions
{
    public const string SectionName = "Storage:Tiering";

    /// <summary>How often the partitions due for tiering (and only those) are looked at.</summary>
    [Range(10, 3_600_000)]
    public int IntervalMs { get; set; } = 1_000;

    /// <summary>
    /// How often one Storage instance looks at every partition (one HMGET each, pipelined) to find any the due set
    /// lost (a crash between an append and its mark) or never had (data written before it existed); the first
    /// pass after start does too. Between sweeps, passes read only the partitions that are due.
    /// </summary>
    [Range(1_000, 86_400_000)]
    public int SweepIntervalMs { get; set; } = 300_000;

    /// <summary>
    /// How often the segment store is swept for orphans: objects no manifest names (an upload whose commit never came, a
    /// delete that failed after retention or a topic deletion). Each Storage instance sweeps; deletes are idempotent.
    /// </summary>
    [Range(10_000, 604_800_000)]
    public int OrphanSweepIntervalMs { get; set; } = 3_600_000;

    /// <summary>Objects younger than this are never swept: an upload still waiting for its manifest commit is not an orphan.</summary>
    [Range(0, 604_800_000)]
    public int OrphanGraceMs { get; set; } = 3_600_000;

    /// <summary>The most objects one sweep looks at (a bound on its time and memory); the next sweep starts over.</summary>
    [Range(1, 100_000_000)]
    public int MaxOrphanSweepObjects { get; set; } = 1_000_000;

    /// <summary>How many partitions one Storage instance tiers at once (each holds a segment's worth of memory while it works).</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 2;

    /// <summary>How long a Storage instance holds a partition's tiering lease without renewing it.</summary>
    [Range(1_000, 3_600_000)]
    public int LeaseMs { get; set; } = 30_000;

    /// <summary>A segment is cut once this many bytes wait to be tiered: one PUT per segment, never one per batch.</summary>
    [Range(4 * 1024, 5L * 1024 * 1024 * 1024)]
    public long SegmentBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>…or once batches have waited this long, so a quiet partition still tiers (one PUT per this interval at most).</summary>
    [Range(100, 86_400_000)]
    public int SegmentMaxAgeMs { get; set; } = 60_000;

    /// <summary>The segment's sparse offset and time index has an entry per this many bytes of data.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int IndexIntervalBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// A partition refuses appends (RESOURCE_EXHAUSTED, so Ingest backs off) once its hot tier holds this many
    /// times its topic's hot budget: what happens while the segment store is down, instead of filling Redis.
    /// </summary>
    [Range(1.0, 1000.0)]
    public double HardLimitFactor { get; set; } = 4.0;

    /// <summary>
    /// Cold reads fetch segments in ranged GETs of this size, the unit of the local cache. 4 MiB: a quarter of the
    /// requests (and of S3's GET charges) of 1 MiB, and faster from S3 (bench/replay.sh measured 0.55-0.6 of a plain
    /// read's speed at 4 MiB against 0.5 at 1 MiB); a reader far behind pays at most one chunk for one record.
    /// </summary>
    [Range(4 * 1024, 256 * 1024 * 1024)]
    public int ChunkBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>How many chunks past the one read are fetched ahead, in parallel (sequential readers then never wait for the store).</summary>
    [Range(0, 64)]
    public int ReadAheadChunks { get; set; } = 2;

    /// <summary>The local chunk cache's size limit in bytes (segment indexes count too); chunks fetched ahead and not yet read take up to half as much again.</summary>
    [Range(0, 1L << 40)]
    public long CacheBytes { get; set; } = 256L * 1024 * 1024;
}
