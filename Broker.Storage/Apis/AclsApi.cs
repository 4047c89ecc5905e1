using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.Storage.Acls;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Apis;

/// <summary>
/// REST for the broker's ACLs (Kafka's model): POST adds a binding (a principal, a resource pattern, operations, allow
/// or deny), GET lists them (filtered), DELETE removes a binding's operations (the same body as POST). Adding and
/// removing need alter on the cluster, listing describe. Every service enforces the result within moments.
/// </summary>
public static class AclsApi
{
    public sealed record AclResourceShape(string? Type, string? Name, string? Pattern);

    /// <summary>A binding as the API takes and shows it: several operations of one principal on one resource pattern.</summary>
    public sealed record AclBinding(string? Principal, AclResourceShape? Resource, IReadOnlyList<string>? Operations, string? Permission);

    public sealed record AclList(IReadOnlyList<AclBinding> Acls);

    public sealed record AclChange(int Changed, AclBinding Binding);

    /// <summary>The most operations one binding can name (every operation once).</summary>
    private const int MaxOperations = 7;

    public static RouteGroupBuilder MapAclsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/acls").WithTags("ACLs");
        api.MapPost("/", Create).WithName("CreateAcls").RequireClusterAcl(AclOperation.Alter);
        api.MapGet("/", List).WithName("ListAcls").RequireClusterAcl(AclOperation.Describe);
        api.MapDelete("/", Delete).WithName("DeleteAcls").RequireClusterAcl(AclOperation.Alter);
        return api;
    }

    public static async Task<Results<Created<AclChange>, Ok<AclChange>, ValidationProblem, ProblemHttpResult>> Create(
        AclBinding? binding, IAclStore store, AclCache cache, IOptions<AuthOptions> auth, CancellationToken cancellationToken)
    {
        if (Parse(binding, out var entries) is { } problem)
        {
            return problem;
        }
        int added;
        try
        {
            added = await store.AddAsync(entries, auth.Value.MaxAcls, cancellationToken);
        }
        catch (AclLimitException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status409Conflict, title: "Too many ACLs.");
        }
        await cache.ReloadAsync(cancellationToken);
        var change = new AclChange(added, Show(entries)[0]);
        return added > 0 ? TypedResults.Created("/v1/acls", change) : TypedResults.Ok(change);
    }

    public static async Task<Results<Ok<AclChange>, ValidationProblem, ProblemHttpResult>> Delete(
        [FromBody] AclBinding? binding, IAclStore store, AclCache cache, CancellationToken cancellationToken)
    {
        if (Parse(binding, out var entries) is { } problem)
        {
            return problem;
        }
        var removed = await store.RemoveAsync(entries, cancellationToken);
        if (removed == 0)
        {
            return TypedResults.Problem("No such ACL: nothing was removed.", statusCode: StatusCodes.Status404NotFound, title: "ACL not found.");
        }
        await cache.ReloadAsync(cancellationToken);
        return TypedResults.Ok(new AclChange(removed, Show(entries)[0]));
    }

    /// <summary>
    /// The bindings, grouped as they were given, filtered by <c>principal</c>, <c>resourceType</c>, <c>permission</c>,
    /// <c>operation</c>, and <c>resourceName</c> with <c>pattern</c>: literal or prefixed (exactly that pattern) or match
    /// (every ACL that applies to that resource name: literal, <c>*</c> and prefixes).
    /// </summary>
    public static async Task<Results<Ok<AclList>, ValidationProblem>> List(
        string? principal, string? resourceType, string? resourceName, string? pattern, string? operation, string? permission,
        IAclStore store, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        AclResourceType? type = null;
        AclOperation? op = null;
        AclPermission? allowOrDeny = null;
        if (resourceType is not null)
        {
            type = AclEntry.TryParse<AclResourceType>(resourceType, out var t) ? t : Error<AclResourceType>(errors, "resourceType", "resourceType is topic, group, subject or cluster.");
        }
        if (operation is not null)
        {
            op = AclEntry.TryParse<AclOperation>(operation, out var o) ? o : Error<AclOperation>(errors, "operation", "operation is read, write, create, delete, alter, describe or all.");
        }
        if (permission is not null)
        {
            allowOrDeny = AclEntry.TryParse<AclPermission>(permission, out var p) ? p : Error<AclPermission>(errors, "permission", "permission is allow or deny.");
        }
        if (pattern is not null and not ("literal" or "prefixed" or "match"))
        {
            errors["pattern"] = ["pattern is literal, prefixed or match."];
        }
        if (pattern is not null && resourceName is null)
        {
            errors["resourceName"] = ["pattern filters by resourceName: give it too."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The ACL filter is not valid.");
        }
        var entries = (await store.LoadAsync(cancellationToken)).Entries.Where(e =>
            (principal is null || e.Principal == principal)
            && (type is null || e.ResourceType == type)
            && (op is null || e.Operation == op)
            && (allowOrDeny is null || e.Permission == allowOrDeny)
            && (resourceName is null || (pattern ?? "literal") switch
            {
                "match" => e.Covers(e.ResourceType, resourceName),
                "prefixed" => e.Pattern == AclPatternType.Prefixed && e.ResourceName == resourceName,
                _ => e.Pattern == AclPatternType.Literal && e.ResourceName == resourceName,
            }));
        return TypedResults.Ok(new AclList(Show(entries)));
    }

    private static T? Error<T>(Dictionary<string, string[]> errors, string key, string message) where T : struct
    {
        errors[key] = [message];
        return null;
    }

    /// <summary>The binding as entries (one per operation), or the 400 naming every field that is wrong.</summary>
    private static ValidationProblem? Parse(AclBinding? binding, out List<AclEntry> entries)
    {
        entries = [];
        var errors = new Dictionary<string, string[]>();
        if (binding?.Principal is not { } principal || (principal != AclEntry.Wildcard && Principals.Check(principal) is not null))
        {
            errors["principal"] = [$"principal is a principal's name (1 to {Principals.MaxNameLength} characters, no spaces) or '*' for everyone."];
        }
        if (!AclEntry.TryParse<AclResourceType>(binding?.Resource?.Type, out var type))
        {
            errors["resource.type"] = ["resource.type is topic, group, subject or cluster."];
        }
        var pattern = AclPatternType.Literal;
        if (binding?.Resource?.Pattern is { } patternText && !AclEntry.TryParse(patternText, out pattern))
        {
            errors["resource.pattern"] = ["resource.pattern is literal (the default) or prefixed."];
        }
        var name = binding?.Resource?.Name ?? (type == AclResourceType.Cluster ? AclEntry.ClusterName : null);
        if (string.IsNullOrEmpty(name))
        {
            errors["resource.name"] = ["resource.name is the resource's name, a prefix, or '*' for every name."];
        }
        var operations = new List<AclOperation>();
        if (binding?.Operations is not { Count: > 0 and <= MaxOperations } given)
        {
            errors["operations"] = [$"operations lists 1 to {MaxOperations} of read, write, create, delete, alter, describe, all."];
        }
        else
        {
            foreach (var text in given)
            {
                if (AclEntry.TryParse<AclOperation>(text, out var operation))
                {
                    operations.Add(operation);
                }
                else
                {
                    errors["operations"] = [$"'{text}' is not an operation: read, write, create, delete, alter, describe or all."];
                }
            }
        }
        var permission = AclPermission.Allow;
        if (binding?.Permission is { } permissionText && !AclEntry.TryParse(permissionText, out permission))
        {
            errors["permission"] = ["permission is allow (the default) or deny."];
        }
        if (errors.Count == 0)
        {
            entries = [.. operations.Distinct().Select(o => new AclEntry(binding!.Principal!, type, name!, pattern, o, permission))];
            if (entries[0].Check() is { } problem)
            {
                errors["resource"] = [problem];
            }
        }
        return errors.Count > 0 ? TypedResults.ValidationProblem(errors, title: "The ACL is not valid.") : null;
    }

    /// <summary>Entries grouped back into bindings: one per principal, resource pattern and permission.</summary>
    private static List<AclBinding> Show(IEnumerable<AclEntry> entries) =>
    [
        .. entries
            .GroupBy(e => (e.Principal, e.ResourceType, e.ResourceName, e.Pattern, e.Permission))
            .OrderBy(g => g.Key.Principal, StringComparer.Ordinal).ThenBy(g => g.Key.ResourceType).ThenBy(g => g.Key.ResourceName, StringComparer.Ordinal)
            .Select(g => new AclBinding(g.Key.Principal,
                new AclResourceShape(AclEntry.Name(g.Key.ResourceType), g.Key.ResourceName, AclEntry.Name(g.Key.Pattern)),
                [.. g.Select(e => e.Operation).Order().Select(AclEntry.Name)], AclEntry.Name(g.Key.Permission))),
    ];
}
