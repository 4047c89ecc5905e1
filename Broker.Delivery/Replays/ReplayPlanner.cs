using Broker.Contracts.Naming;
using Broker.Delivery.Groups;
using Broker.Delivery.Outbound;
using Broker.Delivery.StorageAccess;
using Broker.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Replays;

/// <summary>The body of POST /v1/replays. Start and end default to the log's start and end now; the end is exclusive.</summary>
public sealed record ReplayRequest(
    string? Topic = null, IReadOnlyList<int>? Partitions = null, ReplayPosition? Start = null, ReplayPosition? End = null,
    ReplayTarget? Target = null, int? RateLimit = null);

/// <summary>A request that cannot become a job: bad fields (400), something missing (404), or a conflict (409).</summary>
public sealed class ReplayRefusedException(int status, string title, string detail, Dictionary<string, string[]>? errors = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public Dictionary<string, string[]>? Errors { get; } = errors;
}

/// <summary>
/// Turns a request into a job: checks every field, finds the topic and the target, and resolves start and
/// end (offsets, or timestamps looked up over both tiers) into a fixed range per partition, so a job
/// replays the same records however long it runs or however often it is resumed.
/// </summary>
public sealed class ReplayPlanner(LogClient log, IGroupCoordinator coordinator, TimeProvider time, IOptions<ReplayOptions> options, OutboundPolicy outbound)
{
    /// <summary>The job for <paramref name="request"/>, asked for by <paramref name="principal"/> (null on an open broker), whose rights it runs with.</summary>
    public async Task<ReplayJob> PlanAsync(ReplayRequest request, string? principal, CancellationToken cancellationToken)
    {
        var errors = Check(request);
        if (errors.Count > 0)
        {
            throw new ReplayRefusedException(400, "The replay is not valid.", errors.Count == 1 ? errors.Values.First()[0] : "The replay is not valid.", errors);
        }
        var topic = await log.DescribeAsync(request.Topic!, cancellationToken)
            ?? throw new ReplayRefusedException(404, "Topic not found.", $"Topic '{request.Topic}' does not exist.");
        var partitions = request.Partitions ?? [.. Enumerable.Range(0, topic.Partitions)];
        var outside = partitions.Where(p => p < 0 || p >= topic.Partitions).ToList();
        if (partitions.Count == 0 || outside.Count > 0)
        {
            // The ones it does not have, ten at most: the refusal does not grow with the list.
            throw Invalid("partitions", $"Topic '{topic.Name}' has partitions 0 to {topic.Partitions - 1}; "
                + (outside.Count == 0 ? "name at least one, or leave partitions out for all."
                    : $"it has no partition {string.Join(", ", outside.Take(10))}{(outside.Count > 10 ? $" ({outside.Count} in all)" : "")}."));
        }

        var ranges = new List<ReplayPartition>(partitions.Count);
        foreach (var p in partitions)
        {
            var from = await ResolveAsync(topic, p, request.Start, topic.StartOffsets[p], cancellationToken);
            var to = await ResolveAsync(topic, p, request.End, topic.EndOffsets[p], cancellationToken);
            // Nothing before the log's start or after its end can be replayed.
            from = Math.Clamp(from, topic.StartOffsets[p], topic.EndOffsets[p]);
            to = Math.Clamp(to, topic.StartOffsets[p], topic.EndOffsets[p]);
            if (to < from)
            {
                throw Invalid("end", $"The end resolves to offset {to} of partition {p}, before the start at offset {from}.");
            }
            ranges.Add(new ReplayPartition { Partition = p, From = from, To = to, Next = from });
        }

        var target = request.Target!;
        if (target.Group is { } group)
        {
            if (!(await coordinator.TopicsOfAsync(group, cancellationToken)).Contains(topic.Name, StringComparer.Ordinal))
            {
                throw new ReplayRefusedException(404, "Group not found.", $"Group '{group}' has never consumed topic '{topic.Name}'.");
            }
            var (members, _) = await coordinator.DescribeAsync(new GroupTopic(group, topic.Name), cancellationToken);
            if (members.Count > 0)
            {
                throw new ReplayRefusedException(409, "The group is active.",
                    $"Group '{group}' has {members.Count} live consumer(s) on '{topic.Name}'; stop them before rewinding it (their commits would overwrite the rewind).");
            }
        }
        else if (target.Topic is { } into)
        {
            // A topic that does not exist yet is made like the source, so partition n goes to partition n.
            await log.EnsureTopicAsync(into, topic.Partitions, cancellationToken, onBehalfOf: OnBehalfOf.Headers(principal));
        }

        return new ReplayJob
        {
            Id = Guid.NewGuid().ToString("N")[..16],
            Topic = topic.Name,
            Target = target,
            Start = request.Start,
            End = request.End,
            RateLimit = request.RateLimit,
            Principal = principal,
            Partitions = ranges,
            State = ReplayState.Pending,
            CreatedAt = time.GetUtcNow(),
        };
    }

    private async Task<long> ResolveAsync(TopicDescription topic, int partition, ReplayPosition? position, long otherwise, CancellationToken cancellationToken) =>
        position switch
        {
            { Offset: { } offset } => offset,
            { Timestamp: { } timestamp } => await log.FindOffsetAsync(topic.Name, partition, timestamp, cancellationToken),
            _ => otherwise,
        };

    private Dictionary<string, string[]> Check(ReplayRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string field, string message) => errors[field] = [message];
        if (request.Topic is null)
        {
            Add("topic", "Name the topic to replay.");
        }
        else if (Names.Check(request.Topic) is { } topicError)
        {
            Add("topic", topicError);
        }
        if (request.Partitions is { } partitions && partitions.Distinct().Count() != partitions.Count)
        {
            Add("partitions", "Name each partition once.");
        }
        foreach (var (name, position) in new[] { ("start", request.Start), ("end", request.End) })
        {
            if (position is { Offset: not null, Timestamp: not null })
            {
                Add(name, $"{name} is an offset or a timestamp, not both.");
            }
            else if (position is { Offset: < 0 } or { Timestamp: < 0 })
            {
                Add(name, $"{name} must not be negative.");
            }
        }
        if (request.Start is { Offset: { } so } && request.End is { Offset: { } eo } && eo < so)
        {
            Add("end", $"The end (offset {eo}) is before the start (offset {so}).");
        }
        if (request.Start is { Timestamp: { } st } && request.End is { Timestamp: { } et } && et < st)
        {
            Add("end", $"The end (timestamp {et}) is before the start (timestamp {st}).");
        }
        if (request.RateLimit is { } rate && (rate < 1 || rate > options.Value.MaxRateLimit))
        {
            Add("rateLimit", $"rateLimit is records per second, between 1 and {options.Value.MaxRateLimit} (Delivery:Replay:MaxRateLimit); got {rate}.");
        }
        var target = request.Target;
        var named = target is null ? 0
            : (target.Group is null ? 0 : 1) + (target.Topic is null ? 0 : 1) + (target.Url is null ? 0 : 1) + (target.Verify is true ? 1 : 0);
        if (named != 1)
        {
            Add("target", "The target is one of {\"group\": name} (rewind it), {\"topic\": name} (republish into it), {\"url\": address} "
                + "(POST each record there) or {\"verify\": true} (read and check every record, deliver nothing).");
        }
        else if (target!.Group is { } group && Names.Check(group, "group") is { } groupError)
        {
            Add("target.group", groupError);
        }
        else if (target.Topic is { } into)
        {
            if (Names.Check(into) is { } intoError)
            {
                Add("target.topic", intoError);
            }
            else if (into == request.Topic)
            {
                Add("target.topic", "A topic cannot be replayed into itself.");
            }
        }
        else if (target.Url is { } url)
        {
            if (!(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                Add("target.url", $"target.url must be an absolute http or https address; got '{Names.Quote(OutboundPolicy.Redact(url))}'.");
            }
            else if (outbound.Check(uri) is { } refusal)
            {
                Add("target.url", refusal);
            }
        }
        return errors;
    }

    private static ReplayRefusedException Invalid(string field, string message) =>
        new(400, "The replay is not valid.", message, new Dictionary<string, string[]> { [field] = [message] });
}
