using System.ComponentModel.DataAnnotations;

namespace Broker.Storage.Segments;

/// <summary>Where segments are kept, bound from "Storage:Segments" and validated at start-up.</summary>
public sealed class SegmentStoreOptions
{
    public const string SectionName = "Storage:Segments";

    /// <summary>"auto" (S3 when a bucket is set, else the local folder), "s3", "local", or "none" (no cold tier).</summary>
    [RegularExpression("^(auto|s3|local|none)$")]
    public string Store { get; set; } = "auto";

    /// <summary>The local folder store's root.</summary>
    [Required]
    public string Directory { get; set; } = "data/segments";

    /// <summary>Every object name starts with this (no leading or trailing slash needed).</summary>
    [RegularExpression("^[A-Za-z0-9._/-]{0,200}$")]
    public string Prefix { get; set; } = "broker";

    public S3Settings S3 { get; set; } = new();

    /// <summary>How often a failed store call is tried again (exponential backoff from RetryBaseDelayMs) before the caller sees the failure.</summary>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = 4;

    [Range(1, 60_000)]
    public int RetryBaseDelayMs { get; set; } = 200;

    /// <summary>How long one store call may take before it is given up on (and retried).</summary>
    [Range(100, 600_000)]
    public int TimeoutMs { get; set; } = 60_000;

    public sealed class S3Settings
    {
        /// <summary>The bucket; setting it makes "auto" choose S3.</summary>
        public string? Bucket { get; set; }

        /// <summary>An S3-compatible endpoint (MinIO, s3rver, …); empty for AWS itself.</summary>
        public string? ServiceUrl { get; set; }

        public string Region { get; set; } = "us-east-1";

        /// <summary>Path-style addressing (http://host/bucket/key), what most S3-compatible servers need.</summary>
        public bool ForcePathStyle { get; set; }

        /// <summary>Static credentials; without them the SDK's default chain (environment, profile, instance role) applies.</summary>
        public string? AccessKey { get; set; }

        public string? SecretKey { get; set; }

        /// <summary>Objects larger than this are uploaded in parts.</summary>
        [Range(5 * 1024 * 1024, long.MaxValue)]
        public long MultipartThresholdBytes { get; set; } = 64L * 1024 * 1024;

        [Range(5 * 1024 * 1024, 1024L * 1024 * 1024)]
        public int MultipartPartBytes { get; set; } = 16 * 1024 * 1024;
    }
}
