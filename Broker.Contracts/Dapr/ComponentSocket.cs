using System.Net.Sockets;
using Grpc.Net.Client;

namespace Broker.Contracts.Dapr;

/// <summary>A gRPC channel to a pluggable component's Unix socket, opened the way daprd opens it (HTTP/2 without TLS over the socket).</summary>
public static class ComponentSocket
{
    public static GrpcChannel Connect(string socketPath) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });
}
