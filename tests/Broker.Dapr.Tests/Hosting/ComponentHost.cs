extern alias component;

using Broker.Contracts.Dapr;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Dapr.Tests.Hosting;

/// <summary>
/// The pluggable component host on a real Unix socket in a folder of its own, and a gRPC channel to it the way
/// daprd opens one (h2c over the socket), with the x-component-instance header daprd puts on every call.
/// </summary>
public sealed class ComponentHost : IAsyncDisposable
{
    private readonly WebApplicationFactory<component::Program> _factory;

    private ComponentHost(string socketName)
    {
        Folder = Path.Combine(Path.GetTempPath(), "dapr-sockets-" + Guid.NewGuid().ToString("N")[..8]);
        SocketPath = Path.Combine(Folder, socketName + ".sock");
        _factory = new WebApplicationFactory<component::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("DaprComponent:SocketsFolder", Folder);
            web.UseSetting("DaprComponent:SocketName", socketName);
        });
        _factory.UseKestrel();
        _factory.StartServer();
        Channel = Connect(SocketPath);
    }

    public string Folder { get; }

    public string SocketPath { get; }

    public GrpcChannel Channel { get; }

    public static ComponentHost Start(string socketName = "broker") => new(socketName);

    /// <summary>What daprd sends with every call to one component instance (the YAML's metadata.name).</summary>
    public static CallOptions For(string instance, CancellationToken cancellationToken = default) =>
        new(new Metadata { { "x-component-instance", instance } }, cancellationToken: cancellationToken);

    public static GrpcChannel Connect(string socketPath) => ComponentSocket.Connect(socketPath);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _factory.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
