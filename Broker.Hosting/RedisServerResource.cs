using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// <c>redis-server</c> run as an executable (no container runtime needed): loopback only, AOF on, no RDB snapshots, its
/// files in a folder of its own. Its port is an Aspire endpoint; its connection string is StackExchange.Redis's <c>host:port</c>.
/// </summary>
public sealed class RedisServerResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";

    private EndpointReference? _endpoint;

    public EndpointReference PrimaryEndpoint => _endpoint ??= new(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)}");
}
