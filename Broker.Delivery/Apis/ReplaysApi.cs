using Broker.Delivery.Outbound;
using Broker.Delivery.Replays;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Delivery.Apis;

/// <summary>
/// REST for replay jobs: POST creates one (201 with its state), GET shows one or all (progress, rate, ETA),
/// DELETE cancels one. Errors are problem details: 400 naming the field, 404 for a missing topic, group or
/// job, 409 for a group with live consumers or a job that already ended.
/// </summary>
internal static class ReplaysApi
{
    public static RouteGroupBuilder MapReplaysApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/replays").WithTags("Replays");
        api.MapPost("/", Create).WithName("CreateReplay").ChecksAclsInHandler("read on the source topic; write on a target topic, read on a target group");
        api.MapGet("/", List).WithName("ListReplays").ChecksAclsInHandler("lists the jobs whose source topic the caller may describe");
        api.MapGet("/{id}", Get).WithName("GetReplay").ChecksAclsInHandler("describe on the job's source topic");
        api.MapDelete("/{id}", Cancel).WithName("CancelReplay").ChecksAclsInHandler("read on the job's source topic");
        return api;
    }

    public static async Task<Results<Created<ReplayView>, ValidationProblem, ProblemHttpResult>> Create(
        ReplayRequest? request, ReplayPlanner planner, IReplayStore store, AccessControl access, HttpContext http, CancellationToken cancellationToken)
    {
        if (request?.Topic is { } source)
        {
            foreach (var (type, name, operation) in ReplayJob.Rights(source, request.Target))
            {
                if (access.Refusal(http, type, name, operation) is { } refused)
                {
                    return refused;
                }
            }
        }
        ReplayJob job;
        try
        {
            var principal = access.Authorizer.IsOpen || http.User.IsService() ? null : http.User.Name();
            job = await planner.PlanAsync(request ?? new ReplayRequest(), principal, cancellationToken);
        }
        catch (ReplayRefusedException ex) when (ex.Errors is not null)
        {
            return TypedResults.ValidationProblem(ex.Errors, detail: ex.Message, title: ex.Title);
        }
        catch (ReplayRefusedException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: ex.Status, title: ex.Title);
        }
        await store.CreateAsync(job, cancellationToken);
        return TypedResults.Created($"/v1/replays/{job.Id}", ReplayView.From(job));
    }

    public static async Task<Ok<ReplayList>> List(IReplayStore store, AccessControl access, HttpContext http, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ReplayList([.. (await store.ListAsync(cancellationToken))
            .Where(job => access.Allows(http.User, AclResourceType.Topic, job.Topic, AclOperation.Describe))
            .Select(ReplayView.From)]));

    public static async Task<Results<Ok<ReplayView>, ProblemHttpResult>> Get(
        string id, IReplayStore store, AccessControl access, HttpContext http, CancellationToken cancellationToken)
    {
        var job = await store.GetAsync(id, cancellationToken);
        if (job is null)
        {
            return NotFound(id);
        }
        return access.Refusal(http, AclResourceType.Topic, job.Topic, AclOperation.Describe) is { } refused ? refused : TypedResults.Ok(ReplayView.From(job));
    }

    /// <summary>Asks the job to stop: a job no instance runs is cancelled at once; a running one stops within a progress interval.</summary>
    public static async Task<Results<Ok<ReplayView>, ProblemHttpResult>> Cancel(
        string id, IReplayStore store, AccessControl access, HttpContext http, TimeProvider time, CancellationToken cancellationToken)
    {
        var job = await store.GetAsync(id, cancellationToken);
        if (job is null)
        {
            return NotFound(id);
        }
        if (access.Refusal(http, AclResourceType.Topic, job.Topic, AclOperation.Read) is { } refused)
        {
            return refused;
        }
        if (job.IsFinished)
        {
            return TypedResults.Problem($"Replay '{id}' already ended ({job.State.ToString().ToLowerInvariant()}).", statusCode: StatusCodes.Status409Conflict,
                title: "The replay has ended.");
        }
        await store.RequestCancelAsync(id, cancellationToken);
        // Cancelled at once when no instance holds the job, under a new lease epoch (an instance whose lease lapsed
        // cannot write over it); otherwise the instance running it sees the request.
        var (state, finishedAt) = (job.State, job.FinishedAt);
        job.State = ReplayState.Cancelled;
        job.FinishedAt = time.GetUtcNow();
        if (!await store.CancelIdleAsync(job, cancellationToken))
        {
            (job.State, job.FinishedAt) = (state, finishedAt);
        }
        return TypedResults.Ok(ReplayView.From(job) with { CancelRequested = true });
    }

    private static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem($"There is no replay '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Replay not found.");
}

public sealed record ReplayList(IReadOnlyList<ReplayView> Replays);

/// <summary>
/// A job as the API shows it: what it replays, where (a URL target's credentials, stored before they were refused,
/// never shown), its state, progress, rate and the time left.
/// </summary>
public sealed record ReplayView(
    string Id,
    string Topic,
    ReplayTarget Target,
    ReplayPosition? Start,
    ReplayPosition? End,
    int? RateLimit,
    string State,
    IReadOnlyList<ReplayPartitionView> Partitions,
    long RecordsDone,
    long RecordsTotal,
    long BytesDone,
    double Percent,
    double RecordsPerSecond,
    double? EtaSeconds,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    bool CancelRequested = false)
{
    public static ReplayView From(ReplayJob job)
    {
        var total = job.TotalRecords;
        var done = job.RecordsDone;
        var percent = total == 0 ? (job.State == ReplayState.Completed ? 100 : 0) : Math.Round(100.0 * done / total, 2);
        double? eta = job.State == ReplayState.Running && job.RecordsPerSecond > 0 ? Math.Round((total - done) / job.RecordsPerSecond, 1) : null;
        var target = job.Target.Url is { } url ? job.Target with { Url = OutboundPolicy.Redact(url) } : job.Target;
        return new ReplayView(job.Id, job.Topic, target, job.Start, job.End, job.RateLimit, job.State.ToString().ToLowerInvariant(),
            [.. job.Partitions.Select(p => new ReplayPartitionView(p.Partition, p.From, p.To, p.Next))], done, total, job.BytesDone, percent,
            Math.Round(job.RecordsPerSecond, 1), eta, job.CreatedAt, job.StartedAt, job.FinishedAt, job.Error);
    }
}

/// <summary>A partition's range [from, to) and the next offset the job will replay.</summary>
public sealed record ReplayPartitionView(int Partition, long From, long To, long Next);
