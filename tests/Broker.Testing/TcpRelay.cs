using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Broker.Testing;

/// <summary>
/// A TCP relay on a free loopback port to a target (Redis, a service's gRPC port) that can hold everything back:
/// while paused, connections are taken but no byte passes either way, as across a network partition or a peer that
/// stopped answering; on <see cref="Resume"/> what was held goes through. Started paused, it is a peer that is slow to
/// answer at first.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _host;
    private readonly int _port;
    private readonly List<Task> _relays = [];
    private readonly Task _accepting;
    private TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TcpRelay(string host, int port, bool paused)
    {
        _host = host;
        _port = port;
        if (!paused)
        {
            _open.SetResult();
        }
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's loopback port.</summary>
    public int Port { get; }

    /// <summary>http://127.0.0.1:port: where to send what should reach the target.</summary>
    public Uri Address => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Relays to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static TcpRelay Start(string host, int port, bool paused = false) => new(host, port, paused);

    /// <summary>Relays to a URL's host and port.</summary>
    public static TcpRelay Start(Uri target, bool paused = false) => new(target.Host, target.Port, paused);

    /// <summary>From now on nothing passes, on connections open or new, until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_relays)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Lets everything through again, what was held first.</summary>
    public void Resume()
    {
        lock (_relays)
        {
            _open.TrySetResult();
        }
    }

    private Task Opened
    {
        get
        {
            lock (_relays)
            {
                return _open.Task;
            }
        }
    }

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
                await Opened.WaitAsync(_stop.Token);
                using var server = new TcpClient();
                await server.ConnectAsync(_host, _port, _stop.Token);
                using var ends = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = PumpAsync(client.GetStream(), server.GetStream(), ends.Token);
                var down = PumpAsync(server.GetStream(), client.GetStream(), ends.Token);
                await Task.WhenAny(up, down);
                await ends.CancelAsync();
                await Task.WhenAll(up, down);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Copies one direction, each chunk held while the relay is paused.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await Opened.WaitAsync(cancellationToken);
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
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
