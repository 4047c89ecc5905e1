using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Broker.Security.Tests.Hosting;

/// <summary>
/// A TCP relay on a free loopback port to a target (Storage's gRPC port, say) that takes connections at once but passes nothing
/// until <see cref="Open"/>: a service whose calls go through it sees them made and answered only later, as when
/// Storage is slow to answer at start-up.
/// </summary>
public sealed class GatedProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Uri _target;
    private readonly List<Task> _relays = [];
    private readonly Task _accepting;

    private GatedProxy(Uri target)
    {
        _target = target;
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}");
        _accepting = AcceptAsync();
    }

    /// <summary>http://127.0.0.1:port: where to send what should reach the target.</summary>
    public Uri Address { get; }

    public static GatedProxy Start(Uri target) => new(target);

    /// <summary>From now on connections, those waiting and new ones, reach the target.</summary>
    public void Open() => _open.TrySetResult();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_relays)
                {
                    _relays.Add(RelayAsync(client));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await _open.Task.WaitAsync(_stop.Token);
                using var server = new TcpClient();
                await server.ConnectAsync(_target.Host, _target.Port, _stop.Token);
                using var ends = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = client.GetStream().CopyToAsync(server.GetStream(), ends.Token);
                var down = server.GetStream().CopyToAsync(client.GetStream(), ends.Token);
                await Task.WhenAny(up, down);
                await ends.CancelAsync();
                await Task.WhenAll(up, down);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] relays;
        lock (_relays)
        {
            relays = [.. _relays];
        }
        await Task.WhenAll(relays);
        _stop.Dispose();
    }
}
