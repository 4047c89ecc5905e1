using System.Security.Claims;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>An ACL check as an endpoint or a gRPC method asks it: nothing when allowed, else the refusal in the service's shape.</summary>
public sealed class AccessControl(AclAuthorizer authorizer, IAccessRefusals refusals)
{
    public AclAuthorizer Authorizer => authorizer;

    /// <summary>Null when the caller may; otherwise 403 naming what is missing (503 while the ACLs are not loaded).</summary>
    public IResult? Check(HttpContext http, AclResourceType type, string name, AclOperation operation)
    {
        var decision = authorizer.Check(http.User, type, name, operation);
        return decision.Outcome switch
        {
            AccessOutcome.Allowed => null,
            AccessOutcome.Denied => refusals.Result(http, StatusCodes.Status403Forbidden, decision.Message),
            _ => refusals.Result(http, StatusCodes.Status503ServiceUnavailable, decision.Message),
        };
    }

    /// <summary>A refusal of the handler's own wording, in the service's shape (problem details, or the registry's Confluent errors).</summary>
    public IResult Refuse(HttpContext http, int statusCode, string message) => refusals.Result(http, statusCode, message);

    /// <summary>As <see cref="Check"/>, as problem details (for the handlers of our REST paths, whose results are typed).</summary>
    public ProblemHttpResult? Refusal(HttpContext http, AclResourceType type, string name, AclOperation operation) =>
        Refusal(authorizer.Check(http.User, type, name, operation));

    /// <summary>A decision made by <see cref="Decide"/> as problem details: null when allowed, else 403 (503 while the ACLs are not loaded).</summary>
    public static ProblemHttpResult? Refusal(AccessDecision decision)
    {
        var status = decision.Outcome == AccessOutcome.Denied ? StatusCodes.Status403Forbidden : StatusCodes.Status503ServiceUnavailable;
        return decision.Allowed ? null : TypedResults.Problem(decision.Message, statusCode: status, title: ProblemDetailsRefusals.Title(status));
    }

    /// <summary>Throws PERMISSION_DENIED (UNAVAILABLE while the ACLs are not loaded) naming what is missing.</summary>
    public void Demand(ServerCallContext call, AclResourceType type, string name, AclOperation operation) =>
        Demand(call.GetHttpContext().User, type, name, operation);

    public void Demand(ClaimsPrincipal user, AclResourceType type, string name, AclOperation operation)
    {
        var decision = authorizer.Check(user, type, name, operation);
        if (!decision.Allowed)
        {
            throw new RpcException(new Status(decision.Outcome == AccessOutcome.Denied ? StatusCode.PermissionDenied : StatusCode.Unavailable, decision.Message));
        }
    }

    /// <summary>The decision itself, for callers that answer in their own way (a stream's per-message status).</summary>
    public AccessDecision Decide(ClaimsPrincipal user, AclResourceType type, string name, AclOperation operation) =>
        authorizer.Check(user, type, name, operation);

    /// <summary>
    /// Whether the caller may do anything (an open broker, the service key, a superuser): a handler whose check costs
    /// lookups of its own (which subjects hold a schema) skips them for such callers.
    /// </summary>
    public bool IsUnrestricted(ClaimsPrincipal user) => authorizer.IsUnrestricted(user);

    /// <summary>Whether the caller may, without an audit line and without the decision cache: for filtering what a list shows.</summary>
    public bool Allows(ClaimsPrincipal user, AclResourceType type, string name, AclOperation operation) =>
        authorizer.Allows(user, type, name, operation);
}
