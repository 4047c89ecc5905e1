using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Broker.ServiceDefaults.Security.Tls;

namespace Broker.Delivery.Outbound;

/// <summary>
/// The HTTP stack every outbound client uses (the <c>dapr-apps</c> and <c>replay</c> HttpClients, and each gRPC
/// app's channel): <see cref="OutboundGuardHandler"/> checking each request's URL against <see cref="OutboundPolicy"/>,
/// over a SocketsHttpHandler that never follows a redirect, uses no proxy and no cookies, drains little of an answer
/// it will not read, and connects only to addresses the policy allows (a name that resolves somewhere else, or a
/// setting changed since the target was declared, is caught here, at the socket). An https app is trusted as the
/// broker's own services are (the system's CAs, or Tls:CaCertificate too); no client certificate is shown to apps.
/// </summary>
public sealed class OutboundHandlers(OutboundPolicy policy, TlsTrust tls, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("Broker.Delivery.Outbound");

    /// <summary>The innermost handler (HttpClientFactory's primary handler).</summary>
    public SocketsHttpHandler CreatePrimary()
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false, // a proxy would connect on our behalf to whatever its DNS says: the address check would see only the proxy
            UseCookies = false,
            MaxResponseDrainSize = 64 * 1024,
            ResponseDrainTimeout = TimeSpan.FromSeconds(1),
            EnableMultipleHttp2Connections = true,
            // Names are resolved again (and checked again) for each new connection; pooled ones do not outlive this.
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = ConnectAsync,
        };
        tls.Configure(handler, presentClientCertificate: false);
        return handler;
    }

    /// <summary>The check of every request's URL (HttpClientFactory adds one per handler chain).</summary>
    public DelegatingHandler CreateGuard() => new OutboundGuardHandler(policy, _logger);

    /// <summary>The whole stack, for a gRPC channel (which owns and disposes it).</summary>
    public HttpMessageHandler CreateStack()
    {
        var guard = CreateGuard();
        guard.InnerHandler = CreatePrimary();
        return guard;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var port = context.DnsEndPoint.Port;
        var addresses = AllowedHost.ParseAddress(host) is { } literal ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        string? refusal = null;
        ExceptionDispatchInfo? failure = null;
        foreach (var address in addresses)
        {
            if (policy.CheckAddress(host, port, address) is { } why)
            {
                refusal ??= why;
                OutboundLog.Refused(_logger, $"{host}:{port} ({address})", why);
                continue;
            }
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                socket.Dispose();
                failure = ExceptionDispatchInfo.Capture(ex);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        failure?.Throw();
        throw refusal is not null
            ? new OutboundException(refusal)
            : new SocketException((int)SocketError.HostNotFound);
    }
}

/// <summary>
/// Refuses a request whose URL the policy does not allow (never sent; the caller gets an <see cref="OutboundException"/>
/// naming the setting). Answers pass through as they are: a 3xx is never followed (the primary handler does not), and
/// every caller takes it as a refusal.
/// </summary>
internal sealed class OutboundGuardHandler(OutboundPolicy policy, ILogger logger) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Check(request);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Check(request);
        return base.Send(request, cancellationToken);
    }

    private void Check(HttpRequestMessage request)
    {
        var refusal = request.RequestUri is { } url ? policy.Check(url) : "the request has no URL.";
        if (refusal is not null)
        {
            var target = request.RequestUri is { IsAbsoluteUri: true } absolute ? OutboundPolicy.Display(absolute) : "(no URL)";
            OutboundLog.Refused(logger, target, refusal);
            throw new OutboundException(refusal);
        }
    }
}
