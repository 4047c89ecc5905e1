using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Broker.Testing;

/// <summary>
/// A real <c>redis-server</c> child process on a free loopback port, in its own temporary directory, with
/// AOF on (<c>appendfsync everysec</c>) and RDB snapshots off. <see cref="ShutdownAsync"/> sends the real
/// <c>SHUTDOWN</c> command and <see cref="RestartAsync"/> starts the server again on the same port and
/// directory, so the AOF is reloaded: tests can prove that what Redis acknowledged survives a restart.
/// </summary>
/// <remarks>
/// The binary is <c>$REDIS_SERVER_PATH</c> when set, else <c>redis-server</c> on <c>PATH</c>, else the
/// Debian package's <c>/usr/bin/redis-server</c>. Every live server is killed in <see cref="DisposeAsync"/>
/// and, as a safety net, when the test host exits. With <see cref="RedisTls"/> it serves TLS only (<c>--port 0
/// --tls-port</c>, Debian's redis-server is built with TLS), without asking clients for certificates. Extra arguments
/// (e.g. <c>--replicaof 127.0.0.1 port</c>) go after the defaults and so win over them; <see cref="StartSentinelAsync"/>
/// starts a Sentinel (<c>redis-server sentinel.conf --sentinel</c>) instead.
/// </remarks>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private const int MaxPortAttempts = 5;
    private const int MaxOutputLines = 200;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<RedisServerProcess, byte> s_live = new();

    private readonly string _executable;
    private readonly RedisTls? _tls;
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly string? _sentinelConfig;
    private readonly Queue<string> _output = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private bool _disposed;

    static RedisServerProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var server in s_live.Keys)
            {
                server.Kill();
            }
        };
    }

    private RedisServerProcess(string executable, string dataDirectory, int port, RedisTls? tls, IReadOnlyList<string>? extraArguments = null,
        string? sentinelConfig = null)
    {
        _executable = executable;
        _tls = tls;
        _extraArguments = extraArguments ?? [];
        _sentinelConfig = sentinelConfig;
        DataDirectory = dataDirectory;
        Port = port;
    }

    /// <summary>The loopback TCP port the server listens on; the same across restarts.</summary>
    public int Port { get; private set; }

    /// <summary>The server's working directory (holds <c>appendonlydir/</c>); the same across restarts.</summary>
    public string DataDirectory { get; }

    /// <summary>A StackExchange.Redis configuration string for this server (over TLS, checking the name localhost, when it serves TLS).</summary>
    public string ConnectionString => $"127.0.0.1:{Port},allowAdmin=true,abortConnect=false" + (_tls is null ? "" : ",ssl=true,sslHost=localhost");

    /// <summary>True while the child process runs.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false };
            }
        }
    }

    /// <summary>
    /// Starts a server on a free loopback port (TLS only, with <paramref name="tls"/>) and waits until it answers PING.
    /// <paramref name="extraArguments"/> follow the defaults (and are used again by <see cref="RestartAsync"/>).
    /// </summary>
    public static Task<RedisServerProcess> StartAsync(CancellationToken cancellationToken, RedisTls? tls = null, IReadOnlyList<string>? extraArguments = null) =>
        StartAsync(tls, extraArguments, sentinelConfig: null, cancellationToken);

    /// <summary>
    /// Starts a Sentinel on a free loopback port that monitors the primary at 127.0.0.1:<paramref name="primaryPort"/> as
    /// <paramref name="serviceName"/> with a quorum of 1, declaring it down after <paramref name="downAfterMs"/>. Its
    /// configuration file is in its own directory (Sentinel rewrites it).
    /// </summary>
    public static Task<RedisServerProcess> StartSentinelAsync(string serviceName, int primaryPort, CancellationToken cancellationToken, int downAfterMs = 1000)
    {
        var port = primaryPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var down = downAfterMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return StartAsync(tls: null, extraArguments: null, sentinelConfig: string.Join('\n',
            $"sentinel monitor {serviceName} 127.0.0.1 {port} 1",
            $"sentinel down-after-milliseconds {serviceName} {down}",
            $"sentinel failover-timeout {serviceName} 10000",
            $"sentinel parallel-syncs {serviceName} 1",
            ""), cancellationToken);
    }

    private static async Task<RedisServerProcess> StartAsync(RedisTls? tls, IReadOnlyList<string>? extraArguments, string? sentinelConfig,
        CancellationToken cancellationToken)
    {
        var executable = FindExecutable();
        var directory = Path.Combine(Path.GetTempPath(), "broker-redis-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        if (sentinelConfig is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "sentinel.conf"), sentinelConfig, cancellationToken);
        }
        var server = new RedisServerProcess(executable, directory, LoopbackPort.Free(), tls, extraArguments, sentinelConfig);
        s_live.TryAdd(server, 0);
        try
        {
            // The port is free when probed but another process may take it before redis-server binds it:
            // on a failed bind, try again on a new port.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await server.StartProcessAndWaitAsync(cancellationToken);
                    return server;
                }
                catch (RedisServerExitedException) when (attempt < MaxPortAttempts && server.OutputMentionsAddressInUse())
                {
                    server.Port = LoopbackPort.Free();
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends the real <c>SHUTDOWN</c> command (Redis fsyncs the AOF and exits) and waits for the process to
    /// exit. Kills the process if it has not exited within 30 seconds. Does nothing if it is not running.
    /// </summary>
    public async Task ShutdownAsync()
    {
        var process = CurrentProcess();
        if (process is null || process.HasExited)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(s_shutdownTimeout);
        try
        {
            await SendShutdownAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            // The process may be exiting already; waiting below tells.
        }

        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException(
                $"redis-server on port {Port} did not exit within {s_shutdownTimeout.TotalSeconds:0} s of SHUTDOWN; killed it."
                + Environment.NewLine + OutputText());
        }
    }

    /// <summary>
    /// Starts the server again on the same port and in the same directory (so it reloads its AOF) and waits
    /// until it answers PING. Shuts the running server down first if it still runs.
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await ShutdownAsync();
        await StartProcessAndWaitAsync(cancellationToken);
    }

    /// <summary>
    /// SIGKILL, as a crash: no SHUTDOWN, no last AOF fsync. Waits for the process to exit; the directory stays, so
    /// <see cref="RestartAsync"/> can start it again.
    /// </summary>
    public async Task KillAsync()
    {
        var process = CurrentProcess();
        Kill();
        if (process is not null)
        {
            using var timeout = new CancellationTokenSource(s_shutdownTimeout);
            await process.WaitForExitAsync(timeout.Token);
        }
    }

    /// <summary>SIGSTOP: the process stops where it is, its sockets stay open (a server that hangs). <see cref="ResumeAsync"/> continues it.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        var process = CurrentProcess();
        if (process is null || process.HasExited)
        {
            throw new InvalidOperationException($"{this} is not running.");
        }
        using var kill = Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Could not start kill.");
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {process.Id} exited with {kill.ExitCode}.");
        }
    }

    /// <summary>Kills the process if it runs and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var process = CurrentProcess();
        Kill();
        if (process is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Nothing more to do: the directory delete below may then fail and is best effort.
            }

            lock (_gate)
            {
                _process = null;
            }

            process.Dispose();
        }

        s_live.TryRemove(this, out _);
        DeleteDirectory(DataDirectory);
    }

    public override string ToString() => $"redis-server 127.0.0.1:{Port} in {DataDirectory}";

    private async Task StartProcessAndWaitAsync(CancellationToken cancellationToken)
    {
        var process = StartProcess();
        var deadline = Stopwatch.StartNew();
        Exception? lastError = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                // Let the output readers drain what the process wrote before it died.
                await process.WaitForExitAsync(cancellationToken);
                throw new RedisServerExitedException(
                    $"redis-server ({_executable}) on port {Port} exited with code {process.ExitCode} before answering PING."
                    + Environment.NewLine + OutputText());
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(2));
                var reply = await PingAsync(attempt.Token);
                if (reply == "+PONG")
                {
                    return;
                }

                // "-LOADING ..." while the AOF is being replayed: wait.
                lastError = new InvalidOperationException("PING answered " + reply);
            }
            catch (Exception ex) when (ex is SocketException or IOException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                lastError = ex;
            }

            if (deadline.Elapsed > s_startTimeout)
            {
                Kill();
                throw new TimeoutException(
                    $"redis-server ({_executable}) on port {Port} did not answer PING within {s_startTimeout.TotalSeconds:0} s"
                    + $" (last error: {lastError?.Message})."
                    + Environment.NewLine + OutputText());
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    private Process StartProcess()
    {
        var info = new ProcessStartInfo(_executable)
        {
            WorkingDirectory = DataDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            CreateNoWindow = true,
        };
        var port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IEnumerable<string> arguments;
        if (_sentinelConfig is not null)
        {
            arguments =
            [
                Path.Combine(DataDirectory, "sentinel.conf"), "--sentinel", "--port", port, "--bind", "127.0.0.1", "--dir", DataDirectory,
                "--protected-mode", "no", "--daemonize", "no", "--logfile", "",
            ];
        }
        else
        {
            string[] listen = _tls is null
                ? ["--port", port]
                : ["--port", "0", "--tls-port", port, "--tls-cert-file", _tls.CertificateFile, "--tls-key-file", _tls.KeyFile,
                    "--tls-ca-cert-file", _tls.CaFile, "--tls-auth-clients", "no"];
            arguments = listen.Concat(
            [
                "--bind", "127.0.0.1",
                "--dir", DataDirectory,
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--protected-mode", "no",
                "--daemonize", "no",
                "--logfile", "",
            ]).Concat(_extraArguments);
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_process is { HasExited: false })
            {
                throw new InvalidOperationException($"{this} is already running.");
            }

            _process?.Dispose();
            _output.Clear();
            if (!process.Start())
            {
                throw new InvalidOperationException($"Could not start {_executable}.");
            }

            _process = process;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private Process? CurrentProcess()
    {
        lock (_gate)
        {
            return _process;
        }
    }

    private void Kill()
    {
        var process = CurrentProcess();
        try
        {
            if (process is { HasExited: false })
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.Enqueue(line);
            while (_output.Count > MaxOutputLines)
            {
                _output.Dequeue();
            }
        }
    }

    private string OutputText()
    {
        lock (_gate)
        {
            return _output.Count == 0
                ? "redis-server wrote nothing to stdout/stderr."
                : "redis-server stdout/stderr (last lines):" + Environment.NewLine + string.Join(Environment.NewLine, _output);
        }
    }

    private bool OutputMentionsAddressInUse()
    {
        lock (_gate)
        {
            return _output.Any(line => line.Contains("Address already in use", StringComparison.OrdinalIgnoreCase));
        }
    }

    /// <summary>A connection to the server: plain TCP, or TLS checking its certificate against the CA it was given.</summary>
    private async Task<(TcpClient Client, Stream Stream)> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
            if (_tls is null)
            {
                return (client, client.GetStream());
            }
            var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                CertificateChainPolicy = _tls.TrustPolicy(),
            }, cancellationToken);
            return (client, tls);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private async Task<string> PingAsync(CancellationToken cancellationToken)
    {
        var (client, stream) = await ConnectAsync(cancellationToken);
        using var _ = client;
        await using var __ = stream;
        await stream.WriteAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray(), cancellationToken);
        var buffer = new byte[256];
        var reply = new StringBuilder();
        while (!reply.ToString().Contains("\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new IOException("redis-server closed the connection without answering PING.");
            }

            reply.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        var text = reply.ToString();
        return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
    }

    /// <summary>
    /// Sends one command on a new connection and answers the reply as text: a status, an integer or a bulk string as it is,
    /// an error as "-ERR …", an array as its elements on separate lines. For the test's own probes (INFO, ROLE, REPLICAOF,
    /// SENTINEL …), not for load.
    /// </summary>
    public async Task<string> CommandAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        var (client, stream) = await ConnectAsync(cancellationToken);
        using var _ = client;
        await using var __ = stream;
        var request = new StringBuilder().Append('*').Append(arguments.Length).Append("\r\n");
        foreach (var argument in arguments)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(argument)).Append("\r\n").Append(argument).Append("\r\n");
        }
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), cancellationToken);
        var reader = new RespReader(stream);
        return await reader.ReadAsync(cancellationToken);
    }

    /// <summary>Just enough RESP2 to read one reply.</summary>
    private sealed class RespReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start;
        private int _end;

        public async Task<string> ReadAsync(CancellationToken cancellationToken)
        {
            var line = await LineAsync(cancellationToken);
            var length = line[0] is '$' or '*' ? int.Parse(line.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture) : 0;
            switch (line[0])
            {
                case '$' or '*' when length < 0:
                    return "";
                case '$':
                    var bytes = await BytesAsync(length + 2, cancellationToken);
                    return Encoding.UTF8.GetString(bytes, 0, length);
                case '*':
                    var items = new List<string>();
                    for (var i = 0; i < length; i++)
                    {
                        items.Add(await ReadAsync(cancellationToken));
                    }
                    return string.Join('\n', items);
                case '-':
                    return line;
                default:
                    return line[1..];
            }
        }

        private async Task<string> LineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                await FillAsync(cancellationToken);
                var b = _buffer[_start++];
                if (b == '\n' && line.Count > 0 && line[^1] == '\r')
                {
                    return Encoding.UTF8.GetString([.. line[..^1]]);
                }
                line.Add(b);
            }
        }

        private async Task<byte[]> BytesAsync(int count, CancellationToken cancellationToken)
        {
            var bytes = new byte[count];
            for (var i = 0; i < count;)
            {
                await FillAsync(cancellationToken);
                var n = Math.Min(count - i, _end - _start);
                Array.Copy(_buffer, _start, bytes, i, n);
                _start += n;
                i += n;
            }
            return bytes;
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            if (_start < _end)
            {
                return;
            }
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken);
            if (_end == 0)
            {
                throw new IOException("redis-server closed the connection before replying in full.");
            }
        }
    }

    private async Task SendShutdownAsync(CancellationToken cancellationToken)
    {
        var (client, stream) = await ConnectAsync(cancellationToken);
        using var _ = client;
        await using var __ = stream;
        await stream.WriteAsync("*1\r\n$8\r\nSHUTDOWN\r\n"u8.ToArray(), cancellationToken);

        // On success Redis closes the connection without a reply; an error reply means it refused.
        var buffer = new byte[512];
        var read = await stream.ReadAsync(buffer, cancellationToken);
        if (read > 0 && buffer[0] == (byte)'-')
        {
            throw new InvalidOperationException("redis-server refused SHUTDOWN: " + Encoding.ASCII.GetString(buffer, 0, read).Trim());
        }
    }


    private static string FindExecutable()
    {
        var configured = Environment.GetEnvironmentVariable("REDIS_SERVER_PATH");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"REDIS_SERVER_PATH points to {configured}, which does not exist.", configured);
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var folder in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (var candidate in new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            "redis-server was not found on PATH nor at /usr/bin/redis-server. Install it (Debian: apt-get install redis-server, "
            + "or run ./test.sh which does) or set REDIS_SERVER_PATH.");
    }

    private static void DeleteDirectory(string directory)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }

                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(100);
            }
        }
    }

    private sealed class RedisServerExitedException(string message) : InvalidOperationException(message);
}

/// <summary>The PEM files a TLS-only redis-server serves with: its certificate (for localhost and 127.0.0.1), its key, and the CA that issued it.</summary>
public sealed record RedisTls(string CertificateFile, string KeyFile, string CaFile)
{
    /// <summary>Trust in <see cref="CaFile"/> only, as the test's own probes check the server.</summary>
    public X509ChainPolicy TrustPolicy()
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.ImportFromPemFile(CaFile);
        return policy;
    }
}
