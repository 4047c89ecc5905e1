using Broker.Contracts.Batches;
using Broker.Contracts.Naming;

namespace Broker.Storage.Topics;

/// <summary>The body of PUT /v1/topics/{topic}: every field optional, defaults as in <see cref="TopicDefaults"/>.</summary>
public sealed record TopicSpec
{
    public int? Partitions { get; init; }
    public long? RetentionMs { get; init; }
    public long? RetentionBytes { get; init; }
    public long? HotBytes { get; init; }
    public long? HotMs { get; init; }
    public string? SchemaSubject { get; init; }

    /// <summary>Values must be registered Avro in the subject's schemas; naming a schemaSubject switches it on too.</summary>
    public bool? SchemaValidation { get; init; }
    public int? MaxDeliveryAttempts { get; init; }
    public string? DeadLetterTopic { get; init; }

    /// <summary>How long a record may wait for delivery before it is skipped as expired; -1 for no limit.</summary>
    public long? MessageTtlMs { get; init; }

    /// <summary>"none", "lz4" or "zstd".</summary>
    public string? Compression { get; init; }

    /// <summary>"leader" (the default) or "replicas": when an append is acknowledged (see <see cref="TopicAcks"/>).</summary>
    public string? Acks { get; init; }
}

/// <summary>Topic and group name rules and the checks a topic specification must pass.</summary>
public static class TopicValidation
{
    public static string? CheckName(string name, string what = "topic") => Names.Check(name, what);

    public static bool TryParseCodec(string? value, out CompressionCodec codec)
    {
        codec = CompressionCodec.None;
        switch (value?.ToLowerInvariant())
        {
            case null or "" or "none":
                return true;
            case "lz4":
                codec = CompressionCodec.Lz4;
                return true;
            case "zstd":
                codec = CompressionCodec.Zstd;
                return true;
            default:
                return false;
        }
    }

    public static bool TryParseAcks(string? value, out TopicAcks acks)
    {
        acks = TopicAcks.Leader;
        switch (value?.ToLowerInvariant())
        {
            case null or "leader":
                return true;
            case "replicas":
                acks = TopicAcks.Replicas;
                return true;
            default:
                return false;
        }
    }

    /// <summary>The setting's name in the API: "leader" or "replicas".</summary>
    public static string AcksName(TopicAcks acks) => acks == TopicAcks.Replicas ? "replicas" : "leader";

    /// <summary>Every problem with a specification, by field name (the shape of a validation problem).</summary>
    public static Dictionary<string, string[]> Check(string topic, TopicSpec spec)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string field, string message) => errors[field] = [message];

        if (CheckName(topic) is { } nameError)
        {
            Add("topic", nameError);
        }
        if (spec.Partitions is { } p && p is < 1 or > TopicDefaults.MaxPartitions)
        {
            Add("partitions", $"partitions must be between 1 and {TopicDefaults.MaxPartitions}; got {p}.");
        }
        if (spec.RetentionMs is { } ms && ms != -1 && ms is < 1000 or > TopicDefaults.MaxDurationMs)
        {
            Add("retentionMs", $"retentionMs must be -1 (forever) or 1000 to {TopicDefaults.MaxDurationMs} (100 years); got {ms}.");
        }
        if (spec.RetentionBytes is { } rb && rb != -1 && rb < 1024)
        {
            Add("retentionBytes", $"retentionBytes must be -1 (no limit) or at least 1024; got {rb}.");
        }
        if (spec.HotBytes is { } hb && hb < 1024)
        {
            Add("hotBytes", $"hotBytes must be at least 1024; got {hb}.");
        }
        if (spec.HotMs is { } hotMs && hotMs != -1 && hotMs is < 1000 or > TopicDefaults.MaxDurationMs)
        {
            Add("hotMs", $"hotMs must be -1 (no age limit) or 1000 to {TopicDefaults.MaxDurationMs} (100 years); got {hotMs}.");
        }
        if (spec.MessageTtlMs is { } ttl && ttl != -1 && ttl is < 1 or > TopicDefaults.MaxDurationMs)
        {
            Add("messageTtlMs", $"messageTtlMs must be -1 (no limit) or 1 to {TopicDefaults.MaxDurationMs} (100 years); got {ttl}.");
        }
        if (spec.MaxDeliveryAttempts is { } a && a is < 1 or > 1000)
        {
            Add("maxDeliveryAttempts", $"maxDeliveryAttempts must be between 1 and 1000; got {a}.");
        }
        if (spec.DeadLetterTopic is { } dlq)
        {
            if (CheckName(dlq, "dead-letter topic") is { } dlqError)
            {
                Add("deadLetterTopic", dlqError);
            }
            else if (dlq == topic)
            {
                Add("deadLetterTopic", "A topic cannot be its own dead-letter topic.");
            }
        }
        if (spec.SchemaSubject is { } subject && (subject.Length == 0 || subject.Length > 255 || subject.Any(char.IsControl)))
        {
            Add("schemaSubject", "schemaSubject must be 1 to 255 characters with no control characters.");
        }
        if (!TryParseCodec(spec.Compression, out _))
        {
            Add("compression", $"compression must be none, lz4 or zstd; got '{spec.Compression}'.");
        }
        if (!TryParseAcks(spec.Acks, out _))
        {
            Add("acks", $"acks must be leader (acknowledged once the Redis primary holds the batch) or replicas (once "
                + $"Storage:MinInSyncReplicas replicas confirmed it); got '{spec.Acks}'.");
        }
        return errors;
    }
}
