using System.Net.Http.Headers;
using Grpc.Net.Client;

namespace Broker.Ctl.Client;

/// <summary>
/// The one place brokerctl makes its clients: every REST client (<see cref="BrokerHttp"/>) and every gRPC channel
/// runs over the same handler chain, which sends the token as <c>Authorization: Bearer</c> (gRPC metadata
/// <c>authorization</c> likewise) and trusts the <c>--ca-cert</c> CAs besides the system's. The token is never part
/// of a message.
/// </summary>
public sealed class BrokerConnection
{
    private readonly string? _token;
    private readonly CaTrust? _trust;

    private BrokerConnection(string? token, CaTrust? trust)
    {
        _token = token;
        _trust = trust;
    }

    /// <summary>A connection with this token (none when null or empty) trusting this PEM file's CAs (none when null or empty).</summary>
    public static BrokerConnection From(string? token, string? caCertPath)
    {
        if (string.IsNullOrEmpty(token))
        {
            token = null;
        }
        else if (token.Any(c => c <= ' ' || c > '~'))
        {
            // Never echo it: it may be a real secret with a typo.
            throw new CtlException("The token (--token or BROKER_TOKEN) is not a valid credential: printable ASCII, no spaces or line breaks.", 2);
        }
        return new BrokerConnection(token, string.IsNullOrEmpty(caCertPath) ? null : CaTrust.Load(caCertPath));
    }

    /// <summary>The .NET client's settings for these endpoints, with this connection's token and CA trust.</summary>
    public Broker.Client.BrokerClientOptions ClientOptions(string storage, string ingestGrpc) => new()
    {
        Storage = Url("Storage", storage),
        IngestGrpc = Url("Ingest", ingestGrpc),
        Token = _token,
        ServerCertificateValidation = _trust is null ? null : _trust.Validate,
    };

    /// <summary>A REST client of <paramref name="service"/> at <paramref name="baseUrl"/>.</summary>
    public BrokerHttp Http(string service, string baseUrl) => new(service, Url(service, baseUrl), Handler(), TlsHint);

    /// <summary>What to add when a TLS handshake failed: why the extra CAs did not vouch, or that there are none.</summary>
    public string TlsHint() => _trust is null
        ? "a private CA? trust it with --ca-cert or BROKER_CA_CERT"
        : _trust.LastRefusal ?? "with --ca-cert given";

    /// <summary>A gRPC channel to <paramref name="service"/> at <paramref name="address"/> (h2c for http://, TLS for https://).</summary>
    public GrpcChannel Grpc(string service, string address) =>
        GrpcChannel.ForAddress(Url(service, address), new GrpcChannelOptions { HttpHandler = Handler(), DisposeHttpClient = true });

    /// <summary>The handler chain under every client: the bearer token over sockets that trust the extra CAs.</summary>
    public HttpMessageHandler Handler()
    {
        var sockets = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) };
        if (_trust is { } trust)
        {
            sockets.SslOptions.RemoteCertificateValidationCallback = trust.Validate;
        }
        return _token is null ? sockets : new BearerHandler(_token) { InnerHandler = sockets };
    }

    private static Uri Url(string service, string url) =>
        Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new CtlException($"{service}'s URL '{url}' is not an http:// or https:// URL.", 2);

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
