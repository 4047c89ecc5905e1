using System.Net.Http.Headers;
using Grpc.Net.Client;

namespace Broker.Client.Connection;

/// <summary>
/// The one place the client makes its HTTP clients and gRPC channels: handler chains that send the token as
/// <c>Authorization: Bearer</c> (gRPC metadata <c>authorization</c> likewise), one for REST and one for gRPC (a gRPC
/// channel takes its sockets handler over for its own connection management). Owned by a producer, consumer or
/// admin client, and disposed with it.
/// </summary>
internal sealed class BrokerConnection : IDisposable
{
    private readonly HttpMessageHandler _rest;
    private readonly HttpMessageHandler _grpc;
    private readonly List<IDisposable> _owned = [];

    public BrokerConnection(BrokerClientOptions options)
    {
        Options = options;
        _rest = Chain(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) }, options);
        _grpc = Chain(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(15),
            // Long-lived streams: keep the connection checked, and open another one when a connection's streams run out.
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(15),
            EnableMultipleHttp2Connections = true,
        }, options);
    }

    private static HttpMessageHandler Chain(SocketsHttpHandler sockets, BrokerClientOptions options)
    {
        if (options.ServerCertificateValidation is { } validate)
        {
            sockets.SslOptions.RemoteCertificateValidationCallback = validate;
        }
        return string.IsNullOrEmpty(options.Token) ? sockets : new BearerHandler(options.Token) { InnerHandler = sockets };
    }

    public BrokerClientOptions Options { get; }

    /// <summary>A channel to a gRPC endpoint (h2c for http://, TLS for https://), sharing this connection's handler.</summary>
    public GrpcChannel Channel(Uri address)
    {
        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = _grpc, DisposeHttpClient = false });
        lock (_owned)
        {
            _owned.Add(channel);
        }
        return channel;
    }

    /// <summary>An HTTP client of a REST endpoint, sharing this connection's handler.</summary>
    public HttpClient Http(Uri baseAddress)
    {
        var client = new HttpClient(_rest, disposeHandler: false) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        lock (_owned)
        {
            _owned.Add(client);
        }
        return client;
    }

    public void Dispose()
    {
        lock (_owned)
        {
            foreach (var owned in _owned)
            {
                owned.Dispose();
            }
            _owned.Clear();
        }
        _rest.Dispose();
        _grpc.Dispose();
    }

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        private readonly AuthenticationHeaderValue _header = new("Bearer", token);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = _header;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
