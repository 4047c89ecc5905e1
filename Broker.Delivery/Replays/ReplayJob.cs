using System.Text.Json.Serialization;
using Broker.ServiceDefaults.Security.Acls;

namespace Broker.Delivery.Replays;

public enum ReplayState
{
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>
/// Where a replay sends what it reads: a group to rewind, a topic to republish into, an HTTP endpoint, or
/// nowhere while checking every record (verify: a scrub of the history, and how fast it can be read).
/// </summary>
public sealed record ReplayTarget(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Group = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Topic = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Url = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Verify = null)
{
    [JsonIgnore]
    public string Kind => Group is not null ? "group" : Topic is not null ? "topic" : Url is not null ? "http" : "verify";
}

/// <summary>A position in a partition as a request gives it: an offset or a timestamp (unix ms), not both.</summary>
public sealed record ReplayPosition(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Offset = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Timestamp = null);

/// <summary>One partition's range [From, To) and how far the job got (Next: every offset below it is done).</summary>
public sealed class ReplayPartition
{
    public int Partition { get; init; }
    public long From { get; init; }
    public long To { get; init; }
    public long Next { get; set; }

    [JsonIgnore]
    public bool Done => Next >= To;
}

/// <summary>
/// A replay job as stored: what was asked, the ranges it resolved to when it was created, its state and
/// its progress. Only the instance holding the job's lease changes it, except for a cancel request, which
/// is a flag of its own.
/// </summary>
public sealed class ReplayJob
{
    public required string Id { get; init; }
    public required string Topic { get; init; }
    public required ReplayTarget Target { get; init; }
    public ReplayPosition? Start { get; init; }
    public ReplayPosition? End { get; init; }

    /// <summary>Records per second at most; null: as fast as the store reads.</summary>
    public int? RateLimit { get; init; }

    /// <summary>Who asked for the job: it runs with that principal's rights, checked again whenever it starts or resumes. Null on an open broker.</summary>
    public string? Principal { get; init; }

    public required List<ReplayPartition> Partitions { get; init; }
    public ReplayState State { get; set; }
    public long RecordsDone { get; set; }
    public long BytesDone { get; set; }

    /// <summary>Records per second over the last progress interval.</summary>
    public double RecordsPerSecond { get; set; }

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }

    [JsonIgnore]
    public long TotalRecords => Partitions.Sum(p => p.To - p.From);

    /// <summary>The same job with another target (a URL target's credentials removed before it is stored again).</summary>
    public ReplayJob WithTarget(ReplayTarget target) => new()
    {
        Id = Id,
        Topic = Topic,
        Target = target,
        Start = Start,
        End = End,
        RateLimit = RateLimit,
        Partitions = Partitions,
        State = State,
        RecordsDone = RecordsDone,
        BytesDone = BytesDone,
        RecordsPerSecond = RecordsPerSecond,
        CreatedAt = CreatedAt,
        StartedAt = StartedAt,
        FinishedAt = FinishedAt,
        Error = Error,
    };

    [JsonIgnore]
    public bool IsFinished => State is ReplayState.Completed or ReplayState.Failed or ReplayState.Cancelled;

    /// <summary>The rights the job needs: read on the source; write on a target topic, or read on a group it rewinds.</summary>
    public static IEnumerable<(AclResourceType Type, string Name, AclOperation Operation)> Rights(string source, ReplayTarget? target)
    {
        yield return (AclResourceType.Topic, source, AclOperation.Read);
        if (target?.Topic is { } into)
        {
            yield return (AclResourceType.Topic, into, AclOperation.Write);
        }
        if (target?.Group is { } group)
        {
            yield return (AclResourceType.Group, group, AclOperation.Read);
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ReplayJob))]
internal sealed partial class ReplayJsonContext : JsonSerializerContext;
