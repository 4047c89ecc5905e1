using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>What an endpoint checks before it acts, kept as endpoint metadata so a test can see that no endpoint forgot.</summary>
public sealed record AclRequirementMetadata(string Description);

/// <summary>
/// ACL checks declared where endpoints are mapped: <c>.RequireAcl(AclResourceType.Topic, "topic", AclOperation.Write)</c>
/// checks the right on the resource the route value names before the handler runs; <c>.ChecksAclsInHandler("…")</c>
/// marks an endpoint whose rights depend on its body (the handler calls <see cref="AccessControl"/> itself).
/// </summary>
public static class AclEndpoints
{
    public static TBuilder RequireAcl<TBuilder>(this TBuilder builder, AclResourceType type, string routeValue, AclOperation operation)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new AclRequirementMetadata($"{AclEntry.Name(operation)} on {AclEntry.Name(type)} {{{routeValue}}}"));
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var name = http.Request.RouteValues[routeValue] as string ?? "";
            return http.RequestServices.GetRequiredService<AccessControl>().Check(http, type, name, operation) ?? await next(context);
        });
        return builder;
    }

    /// <summary>A right on the cluster (creating ACLs, the registry's global config and mode).</summary>
    public static TBuilder RequireClusterAcl<TBuilder>(this TBuilder builder, AclOperation operation)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new AclRequirementMetadata($"{AclEntry.Name(operation)} on the cluster"));
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            return http.RequestServices.GetRequiredService<AccessControl>().Check(http, AclResourceType.Cluster, AclEntry.ClusterName, operation)
                ?? await next(context);
        });
        return builder;
    }

    /// <summary>The handler checks the rights itself (they depend on the body or filter what it lists); says which.</summary>
    public static TBuilder ChecksAclsInHandler<TBuilder>(this TBuilder builder, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AclRequirementMetadata(description));
}
