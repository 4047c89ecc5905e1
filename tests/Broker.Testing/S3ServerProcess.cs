using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Broker.Testing;

/// <summary>
/// A real S3-compatible server for tests: the npm package <c>s3rver</c> as a child process on a free loopback
/// port, path-style, in its own data directory, with <see cref="Bucket"/> created at start. Credentials are
/// s3rver's fixed <c>S3RVER</c>/<c>S3RVER</c>. <see cref="StopAsync"/> and <see cref="StartAsync()"/> take the
/// server away and bring it back on the same port and directory (an S3 outage, with the objects kept).
/// </summary>
/// <remarks>
/// The binary is <c>$S3RVER_PATH</c> when set, else <c>s3rver</c> on <c>PATH</c> (test.sh installs it with npm). With
/// <see cref="S3Tls"/> it serves https (<c>--cert</c>, <c>--key</c>) with a certificate for 127.0.0.1.
/// </remarks>
public sealed class S3ServerProcess : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Bucket = "broker-test";
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<S3ServerProcess, byte> s_live = new();
    private readonly Queue<string> _output = new();
    private readonly Lock _gate = new();
    private readonly S3Tls? _tls;
    private Process? _process;

    static S3ServerProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var server in s_live.Keys)
            {
                server.Kill();
            }
        };
    }

    private S3ServerProcess(string directory, int port, S3Tls? tls)
    {
        DataDirectory = directory;
        Port = port;
        _tls = tls;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    /// <summary>The endpoint to give the AWS SDK (path-style).</summary>
    public string ServiceUrl => $"{(_tls is null ? "http" : "https")}://127.0.0.1:{Port}";

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

    public static async Task<S3ServerProcess> StartNewAsync(S3Tls? tls = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "broker-s3-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var server = new S3ServerProcess(directory, LoopbackPort.Free(), tls);
        s_live.TryAdd(server, 0);
        try
        {
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server (again) on its port and directory and waits until it answers HTTP.</summary>
    public async Task StartAsync()
    {
        var executable = Environment.GetEnvironmentVariable("S3RVER_PATH") is { Length: > 0 } configured ? configured : "s3rver";
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] tls = _tls is null ? [] : ["--cert", _tls.CertificateFile, "--key", _tls.KeyFile];
        foreach (var argument in new[] { "-d", DataDirectory, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--no-vhost-buckets", "--configure-bucket", Bucket }.Concat(tls))
        {
            info.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("s3rver did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("s3rver is not on PATH: install it with 'npm install -g s3rver' (test.sh does).", ex);
        }
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate)
        {
            _process = process;
        }

        using var http = _tls is null ? new HttpClient() : new HttpClient(_tls.TrustingHandler());
        http.Timeout = TimeSpan.FromSeconds(2);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"s3rver exited at start with code {process.ExitCode}:{Environment.NewLine}{Output()}");
            }
            try
            {
                using var response = await http.GetAsync($"{ServiceUrl}/{Bucket}");
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Forbidden)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            if (deadline.Elapsed > s_startTimeout)
            {
                Kill();
                throw new TimeoutException($"s3rver did not answer on {ServiceUrl} within {s_startTimeout.TotalSeconds} s:{Environment.NewLine}{Output()}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Kills the server (its objects stay on disk); requests fail with connection refused until <see cref="StartAsync()"/>.</summary>
    public async Task StopAsync()
    {
        Process? process;
        lock (_gate)
        {
            process = _process;
            _process = null;
        }
        if (process is null)
        {
            return;
        }
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        s_live.TryRemove(this, out _);
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private void Kill()
    {
        lock (_gate)
        {
            try
            {
                _process?.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 100)
            {
                _output.Dequeue();
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return new StringBuilder().AppendJoin(Environment.NewLine, _output).ToString();
        }
    }
}

/// <summary>The PEM files s3rver serves https with: its certificate (for 127.0.0.1), its key, and the CA that issued it.</summary>
public sealed record S3Tls(string CertificateFile, string KeyFile, string CaFile)
{
    /// <summary>A handler trusting <see cref="CaFile"/> only, for the test's own probes.</summary>
    public SocketsHttpHandler TrustingHandler()
    {
        var policy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
        {
            TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
            RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.ImportFromPemFile(CaFile);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = policy;
        return handler;
    }
}
