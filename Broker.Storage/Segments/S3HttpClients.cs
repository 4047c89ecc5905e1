using System.Net;
using Amazon.Runtime;
using Broker.ServiceDefaults.Security.Tls;

namespace Broker.Storage.Segments;

/// <summary>
/// The S3 client's HttpClients when the "Tls" settings say more than the system's trust (a private CA for an
/// S3-compatible server over https, a client certificate): the handler the SDK would make itself (no redirects, no
/// decompression, its proxy, connection and time limits), with <see cref="TlsTrust"/> on it.
/// </summary>
internal sealed class S3HttpClients(TlsTrust tls) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (clientConfig.ConnectTimeout is { } connect)
        {
            handler.ConnectTimeout = connect;
        }
        if (clientConfig.MaxConnectionsPerServer is { } connections)
        {
            handler.MaxConnectionsPerServer = connections;
        }
        if (clientConfig.GetWebProxy() is { } proxy)
        {
            proxy.Credentials = clientConfig.ProxyCredentials ?? proxy.Credentials;
            handler.Proxy = proxy;
        }
        tls.Configure(handler);
        var http = new HttpClient(handler);
        if (clientConfig.Timeout is { } timeout)
        {
            http.Timeout = timeout;
        }
        return http;
    }
}
