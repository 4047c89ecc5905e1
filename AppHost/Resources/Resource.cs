using System.Diagnostics;

namespace Broker.AppHost.Resources;

/// <summary>
/// One thing AppHost runs as its own process (redis-server, a service): how to start it, how to tell it is healthy,
/// what it serves, and what must be healthy before it starts. Mirrors an Aspire resource.
/// </summary>
internal abstract class Resource(string name)
{
    public string Name { get; } = name;

    public List<Resource> DependsOn { get; } = [];

    /// <summary>What it serves, for the status table (e.g. "rest http://localhost:5100").</summary>
    public abstract IReadOnlyList<string> Endpoints { get; }

    public abstract ProcessStartInfo CreateStartInfo();

    /// <summary>One health check: true when it answers healthy now.</summary>
    public abstract Task<bool> IsHealthyAsync(CancellationToken cancellationToken);

    public Resource WaitsFor(params Resource?[] resources)
    {
        DependsOn.AddRange(resources.OfType<Resource>());
        return this;
    }
}
