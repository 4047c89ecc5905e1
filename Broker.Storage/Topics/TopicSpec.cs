using System.Text.RegularExpressions;
using Broker.Contracts.Batches;

namespace Broker.Storage.Topics;

/// <summary>The body of PUT /v1/topics/{topic}: every field optional, defaults as in <see cref="TopicDefaults"/>.</summary>
public sealed record TopicSpec
{
    public int? Partitions { get; init; }
    public long? RetentionMs { get; init; }
    public long? RetentionBytes { get; init; }
    public long? HotBytes { get; init; }
    public string? SchemaSubject { get; init; }
    public int? MaxDeliveryAttempts { get; init; }
    public string? DeadLetterTopic { get; init; }

    /// <summary>"none", "lz4" or "zstd".</summary>
    public string? Compression { get; init; }
}

/// <summary>Topic and group name rules and the checks a topic specification must pass.</summary>
public static partial class TopicValidation
{
    // Kafka's rule: ASCII letters, digits, '.', '_' and '-'. It also keeps ':' and '{}' out of our Redis keys.
    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex LegalName();

    public static string? CheckName(string name, string what = "topic")
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"A {what} name must not be empty.";
        }
        if (name.Length > TopicDefaults.MaxNameLength)
        {
            return $"A {what} name has at most {TopicDefaults.MaxNameLength} characters; '{name[..20]}…' has {name.Length}.";
        }
        if (name is "." or "..")
        {
            return $"'{name}' is not a legal {what} name.";
        }
        return LegalName().IsMatch(name)
            ? null
            : $"'{name}' is not a legal {what} name: use ASCII letters, digits, '.', '_' and '-'.";
    }

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
        if (spec.RetentionMs is { } ms && ms != -1 && ms < 1000)
        {
            Add("retentionMs", $"retentionMs must be -1 (forever) or at least 1000; got {ms}.");
        }
        if (spec.RetentionBytes is { } rb && rb != -1 && rb < 1024)
        {
            Add("retentionBytes", $"retentionBytes must be -1 (no limit) or at least 1024; got {rb}.");
        }
        if (spec.HotBytes is { } hb && hb < 1024)
        {
            Add("hotBytes", $"hotBytes must be at least 1024; got {hb}.");
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
        return errors;
    }
}
