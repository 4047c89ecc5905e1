extern alias component;
extern alias delivery;
extern alias ingest;
extern alias registry;
extern alias storage;

using Broker.ServiceDefaults.Security.Acls;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Security.Tests.Auth;

/// <summary>
/// No endpoint forgot its check: in every service, each REST endpoint declares the ACL it checks (or that its handler
/// checks them), only /health, /alive and /metrics let anyone in, and every gRPC method needs a credential (the
/// component's, reached over its Unix socket only, excepted). New endpoints without a check fail here.
/// </summary>
public sealed class EndpointCoverageTests
{
    private static readonly Dictionary<string, string> s_settings = new()
    {
        ["Auth:Keys:admin"] = "admin-key-0123456789abcdef",
        ["Auth:ServiceKey"] = "service-key-0123456789abcdef",
        ["Storage:HotTier"] = "memory",
        ["DaprComponent:SocketsFolder"] = Path.Combine(Path.GetTempPath(), "coverage-sockets-" + Guid.NewGuid().ToString("N")[..8]),
    };

    [Fact]
    public void Storage() => Check(Endpoints(new WebApplicationFactory<storage::Program>()), "LogService", "AclService");

    [Fact]
    public void Ingest() => Check(Endpoints(new WebApplicationFactory<ingest::Program>()), "ProduceService", "Dapr");

    [Fact]
    public void Delivery() => Check(Endpoints(new WebApplicationFactory<delivery::Program>()), "DeliveryService");

    [Fact]
    public void Registry() => Check(Endpoints(new WebApplicationFactory<registry::Program>()));

    [Fact]
    public void Dapr_component() => Check(Endpoints(new WebApplicationFactory<component::Program>()), "PubSub", "ServerReflection");

    private static List<RouteEndpoint> Endpoints<T>(WebApplicationFactory<T> factory) where T : class
    {
        using var configured = factory.WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in s_settings)
            {
                web.UseSetting(key, value);
            }
        });
        return [.. configured.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()];
    }

    private static void Check(List<RouteEndpoint> endpoints, params string[] grpcServices)
    {
        var problems = new List<string>();
        var grpcSeen = new HashSet<string>();
        foreach (var endpoint in endpoints)
        {
            var route = endpoint.RoutePattern.RawText ?? endpoint.DisplayName ?? "?";
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            if (endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
            {
                grpcSeen.Add(grpc.Method.ServiceName.Split('.')[^1]);
                var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).ToList();
                var socketOnly = policies.Contains(Microsoft.Extensions.Hosting.SecurityExtensions.LocalSocketPolicy);
                if (anonymous || (policies.Count > 0 && !socketOnly))
                {
                    problems.Add($"gRPC {grpc.Method.FullName}: anonymous {anonymous}, policies [{string.Join(",", policies)}]");
                }
                continue;
            }
            if (route.Contains("grpcunimplemented", StringComparison.Ordinal))
            {
                // gRPC's answer to a method or service it does not have: UNIMPLEMENTED, after authentication like the rest.
                if (anonymous)
                {
                    problems.Add($"{route} lets anyone in");
                }
                continue;
            }
            if (route.StartsWith("/health", StringComparison.Ordinal) || route.StartsWith("/alive", StringComparison.Ordinal) || route.StartsWith("/metrics", StringComparison.Ordinal))
            {
                if (!anonymous)
                {
                    problems.Add($"{route} should be open to probes and scrapes");
                }
                continue;
            }
            if (anonymous)
            {
                problems.Add($"{route} lets anyone in");
            }
            if (endpoint.Metadata.GetMetadata<AclRequirementMetadata>() is null)
            {
                problems.Add($"{route} ({string.Join(",", endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods ?? [])}) declares no ACL check");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(grpcServices.Order(), grpcSeen.Where(s => !s.StartsWith("Unimplemented", StringComparison.Ordinal)).Order());
    }
}
