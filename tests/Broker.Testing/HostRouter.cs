namespace Broker.Testing;

/// <summary>
/// Sends each request to the handler of its URL's host: one handler for a client that talks to several in-process
/// test servers (each server's own handler behind a made-up host name, such as <c>http://storage.test/</c>).
/// </summary>
public sealed class HostRouter : HttpMessageHandler
{
    private readonly Dictionary<string, HttpMessageInvoker> _hosts;

    public HostRouter(IReadOnlyDictionary<string, HttpMessageHandler> hosts) =>
        _hosts = hosts.ToDictionary(h => h.Key, h => new HttpMessageInvoker(h.Value, disposeHandler: false), StringComparer.OrdinalIgnoreCase);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Route(request).SendAsync(request, cancellationToken);

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Route(request).Send(request, cancellationToken);

    private HttpMessageInvoker Route(HttpRequestMessage request) =>
        request.RequestUri is { } uri && _hosts.TryGetValue(uri.Host, out var invoker)
            ? invoker
            : throw new InvalidOperationException($"No test server answers for {request.RequestUri}.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var invoker in _hosts.Values)
            {
                invoker.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
