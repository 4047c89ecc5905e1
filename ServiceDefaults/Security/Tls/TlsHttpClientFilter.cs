using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security.Tls;

/// <summary>
/// Puts <see cref="TlsTrust"/> on the primary handler of every HttpClient the factory builds, once every other
/// configuration has run: a filter rather than ConfigureHttpClientDefaults, because the gRPC client factory sets the
/// primary handler of its clients afterwards (a new SocketsHttpHandler), and a default would be lost with it. Handlers
/// that are not the stock ones (a test's in-memory handler) are left alone, and so are clients that keep their own
/// TLS (<see cref="TlsHttpClientOptions.OwnTls"/>, through KeepOwnTls()).
/// </summary>
internal sealed class TlsHttpClientFilter(TlsTrust tls, IOptions<TlsHttpClientOptions> options) : IHttpMessageHandlerBuilderFilter
{
    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next) => builder =>
    {
        next(builder);
        if (!tls.IsConfigured || options.Value.OwnTls.Contains(builder.Name ?? ""))
        {
            return;
        }
        switch (builder.PrimaryHandler)
        {
            case SocketsHttpHandler sockets:
                tls.Configure(sockets);
                break;
            case HttpClientHandler client:
                tls.Configure(client);
                break;
        }
    };
}

/// <summary>Which named HttpClients decide their TLS themselves, untouched by <see cref="TlsHttpClientFilter"/>.</summary>
public sealed class TlsHttpClientOptions
{
    public HashSet<string> OwnTls { get; } = new(StringComparer.Ordinal);
}
