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
    /// <summary>The largest REST answer read: 16 MiB holds a list of tens of thousands of topics.</summary>
    public const int MaxResponseBytes = 16 << 20;

    private readonly HttpMessageHandler _rest;
    private readonly HttpMessageHandler _grpc;
    private readonly List<IDisposable> _owned = [];

    public BrokerConnection(BrokerClientOptions options)
    {
        Options = options;
        _rest = Chain(static () => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) }, options);
        _grpc = Chain(static () => new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(15),
            // Long-lived streams: keep the connection checked, and open another one when a connection's streams run out.
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(15),
            EnableMultipleHttp2Connections = true,
        }, options);
    }

    private static HttpMessageHandler Chain(Func<SocketsHttpHandler> newSockets, BrokerClientOptions options)
    {
        HttpMessageHandler inner;
        if (options.HttpHandler is { } given)
        {
            inner = new Borrowed(given);
        }
        else
        {
            var sockets = newSockets();
            if (options.ServerCertificateValidation is { } validate)
            {
                sockets.SslOptions.RemoteCertificateValidationCallback = validate;
            }
            inner = sockets;
        }
        return string.IsNullOrEmpty(options.Token) ? inner : new BearerHandler(options.Token) { InnerHandler = inner };
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
        var client = new HttpClient(_rest, disposeHandler: false)
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
            // Every answer is read whole before it is parsed: a bound, so no server (or what poses as one) can make it hold more.
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
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

    /// <summary>The user's handler under ours, left undisposed when ours is disposed.</summary>
    private sealed class Borrowed(HttpMessageHandler inner) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _inner = new(inner, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _inner.SendAsync(request, cancellationToken);

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _inner.Send(request, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
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
