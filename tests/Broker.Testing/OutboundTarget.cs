using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Broker.Testing;

/// <summary>
/// Something a service calls out to (a Dapr app, a replay's URL target), on a free loopback port: a real Kestrel
/// app whose endpoints the test maps, counting every request it gets, so a test can say "nothing was called".
/// </summary>
public sealed class OutboundTarget : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private OutboundTarget(WebApplication app, int port)
    {
        _app = app;
        Port = port;
        Url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:port (no trailing path).</summary>
    public Uri Url { get; }

    /// <summary>Requests received so far, whatever their path.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// An app whose <c>/dapr/subscribe</c> answers <paramref name="bytes"/> of JSON as far as it goes ("[" and spaces),
    /// chunked with no Content-Length, so only reading tells how long it is; it stops when the caller hangs up.
    /// </summary>
    public static Task<OutboundTarget> StartEndlessSubscribeAsync(int bytes) => StartAsync(web => web.MapGet("/dapr/subscribe", async (HttpContext context) =>
    {
        context.Response.ContentType = "application/json";
        var chunk = System.Text.Encoding.ASCII.GetBytes(new string(' ', 64 * 1024));
        await context.Response.Body.WriteAsync("["u8.ToArray());
        try
        {
            for (var sent = 0; sent < bytes; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The caller hung up, as it should.
        }
    }));

    /// <summary>Starts the target: HTTP/1.1, or h2c only for a gRPC app (<paramref name="http2"/>).</summary>
    public static async Task<OutboundTarget> StartAsync(Action<WebApplication> map, Action<WebApplicationBuilder>? configure = null, bool http2 = false)
    {
        var port = LoopbackPort.Free();
        // Its own content root and no configuration files: a test folder holds a service's appsettings.json, whose
        // Kestrel endpoints are not this server's.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = http2 ? HttpProtocols.Http2 : HttpProtocols.Http1));
        configure?.Invoke(builder);
        var app = builder.Build();
        var target = new OutboundTarget(app, port);
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref target._requests);
            await next(context);
        });
        map(app);
        await app.StartAsync();
        return target;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>A loopback port that accepts connections and never says a word: a target that hangs.</summary>
public sealed class SilentListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];
    private readonly CancellationTokenSource _stop = new();

    public SilentListener()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_accepted)
            {
                return _accepted.Count;
            }
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_accepted)
        {
            foreach (var socket in _accepted)
            {
                socket.Dispose();
            }
        }
        _stop.Dispose();
    }
}
