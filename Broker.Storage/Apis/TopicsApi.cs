using Broker.ServiceDefaults.Security.Acls;
using Broker.Storage.HotTier;
using Broker.Storage.Log;
using Broker.Storage.Topics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Storage.Apis;

/// <summary>REST: PUT/GET/DELETE /v1/topics. Errors are RFC 7807 problem details.</summary>
public static class TopicsApi
{
    public static RouteGroupBuilder MapTopicsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/topics").WithTags("Topics");
        api.MapPut("/{topic}", PutTopic).WithName("PutTopic").ChecksAclsInHandler("create on topic {topic}, or alter when it exists");
        api.MapGet("/", ListTopics).WithName("ListTopics").ChecksAclsInHandler("lists the topics the caller may describe");
        api.MapGet("/{topic}", GetTopic).WithName("GetTopic").RequireAcl(AclResourceType.Topic, "topic", AclOperation.Describe);
        api.MapDelete("/{topic}", DeleteTopic).WithName("DeleteTopic").RequireAcl(AclResourceType.Topic, "topic", AclOperation.Delete);
        return api;
    }

    public static async Task<Results<Created<TopicInfo>, Ok<TopicInfo>, ValidationProblem, ProblemHttpResult>> PutTopic(
        string topic, TopicSpec? spec, TopicRegistry topics, AccessControl access, HttpContext http, CancellationToken cancellationToken)
    {
        spec ??= new TopicSpec();
        var errors = TopicValidation.Check(topic, spec);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: $"Topic '{topic}' is not valid.");
        }
        // Create or alter, as the topic is now; the registry does only what was checked. Created or deleted by another
        // caller in between, it is asked again for the topic as it is then: a caller with both rights (a superuser, an
        // open broker) gets the other change, one without is refused with 409 saying what changed.
        var exists = await topics.FindAsync(topic, cancellationToken, refresh: true) is not null;
        string? changed = null;
        for (var round = 0; ; round++)
        {
            var decision = access.Decide(http.User, AclResourceType.Topic, topic, exists ? AclOperation.Alter : AclOperation.Create);
            if (AccessControl.Refusal(decision) is { } refused)
            {
                return changed is null || decision.Outcome != AccessOutcome.Denied
                    ? refused
                    : TypedResults.Problem($"{changed} {decision.Message}", statusCode: StatusCodes.Status409Conflict, title: TopicChangedTitle);
            }
            try
            {
                var (config, created) = await topics.CreateOrUpdateAsync(topic, spec, exists ? TopicChange.Alter : TopicChange.Create, cancellationToken);
                var info = TopicInfo.From(config, partitionOffsets: null);
                return created ? TypedResults.Created($"/v1/topics/{topic}", info) : TypedResults.Ok(info);
            }
            catch (LogException ex) when (ex.Error == LogError.TopicChanged && round < MaxPutRounds)
            {
                (changed, exists) = (ex.Message, !exists);
            }
            catch (LogException ex)
            {
                // 409 as for every refusal that depends on what the broker holds now (a topic cannot shrink; the
                // broker is at Storage:MaxTopics or Storage:MaxPartitions: deleting topics makes room; it kept being
                // created and deleted while this request was made).
                return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status409Conflict, title: ex.Error switch
                {
                    LogError.LimitReached => "The broker's limit is reached.",
                    LogError.TopicChanged => TopicChangedTitle,
                    _ => "The topic cannot be changed that way.",
                });
            }
        }
    }

    /// <summary>How often a PUT follows a topic created or deleted under it before it gives up with 409.</summary>
    private const int MaxPutRounds = 3;

    private const string TopicChangedTitle = "The topic was created or deleted meanwhile.";

    public static async Task<Ok<TopicList>> ListTopics(TopicRegistry topics, AccessControl access, HttpContext http, CancellationToken cancellationToken)
    {
        var all = await topics.ListAsync(cancellationToken);
        return TypedResults.Ok(new TopicList([.. all
            .Where(t => access.Allows(http.User, AclResourceType.Topic, t.Name, AclOperation.Describe))
            .Select(t => TopicInfo.From(t, partitionOffsets: null))]));
    }

    public static async Task<Results<Ok<TopicInfo>, ProblemHttpResult>> GetTopic(
        string topic, PartitionLog log, CancellationToken cancellationToken)
    {
        try
        {
            var (config, partitions) = await log.DescribeAsync(topic, cancellationToken);
            return TypedResults.Ok(TopicInfo.From(config, partitions));
        }
        catch (LogException ex) when (ex.Error == LogError.TopicNotFound)
        {
            return TopicNotFound(topic);
        }
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteTopic(
        string topic, TopicRegistry topics, CancellationToken cancellationToken) =>
        await topics.DeleteAsync(topic, cancellationToken) ? TypedResults.NoContent() : TopicNotFound(topic);

    private static ProblemHttpResult TopicNotFound(string topic) =>
        TypedResults.Problem($"Topic '{topic}' does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Topic not found.");
}

public sealed record TopicList(IReadOnlyList<TopicInfo> Topics);

public sealed record TopicInfo(
    string Name,
    int Partitions,
    long RetentionMs,
    long RetentionBytes,
    long HotBytes,
    long HotMs,
    string? SchemaSubject,
    bool SchemaValidation,
    int MaxDeliveryAttempts,
    string DeadLetterTopic,
    string Compression,
    long MessageTtlMs,
    string Acks,
    DateTimeOffset CreatedAt,
    IReadOnlyList<PartitionInfo>? PartitionOffsets)
{
    public static TopicInfo From(TopicConfig t, IReadOnlyList<PartitionState>? partitionOffsets) => new(
        t.Name, t.Partitions, t.RetentionMs, t.RetentionBytes, t.HotBytes, t.HotMs, t.EffectiveSchemaSubject ?? t.SchemaSubject, t.SchemaValidation, t.MaxDeliveryAttempts,
        t.EffectiveDeadLetterTopic, t.Compression.ToString().ToLowerInvariant(), t.MessageTtlMs, TopicValidation.AcksName(t.Acks), t.CreatedAt,
        partitionOffsets?.Select(PartitionInfo.From).ToList());
}

/// <summary>A partition's offsets: the log starts in the cold tier when it has segments, then the hot tier takes over at its start.</summary>
public sealed record PartitionInfo(int Partition, long StartOffset, long HotStartOffset, long EndOffset, long HotBytes, long ColdBytes)
{
    public static PartitionInfo From(PartitionState s) => new(s.Partition, s.LogStartOffset, s.StartOffset, s.EndOffset, s.Bytes, s.ColdBytes);
}
