using System.Collections.Concurrent;
using Grpc.Core;

namespace Broker.DaprComponent.Component;

/// <summary>
/// Every component instance this host serves, by the x-component-instance header daprd sends on every call:
/// one socket may serve several YAML components (other consumer groups, other brokers), each with its own state.
/// </summary>
internal sealed class ComponentInstances : IDisposable
{
    public const string InstanceHeader = "x-component-instance";
    private readonly ConcurrentDictionary<string, ComponentInstance> _instances = new(StringComparer.Ordinal);

    public static string NameOf(ServerCallContext context) => context.RequestHeaders.GetValue(InstanceHeader) is { Length: > 0 } name ? name : "default";

    /// <summary>Replaces the instance's state (daprd calls Init again when it reloads the component).</summary>
    public void Set(ComponentInstance instance)
    {
        if (_instances.TryGetValue(instance.Name, out var old))
        {
            old.Dispose();
        }
        _instances[instance.Name] = instance;
    }

    /// <summary>The instance the call is for; FAILED_PRECONDITION when daprd has not initialised it.</summary>
    public ComponentInstance Get(ServerCallContext context) =>
        _instances.TryGetValue(NameOf(context), out var instance)
            ? instance
            : throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Component instance '{NameOf(context)}' was not initialised: call Init first."));

    public void Dispose()
    {
        foreach (var instance in _instances.Values)
        {
            instance.Dispose();
        }
    }
}
