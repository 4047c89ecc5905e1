using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Broker.Testing;

namespace AppHost.Tests;

/// <summary>
/// AppHost as a user runs it: its own process, every port free and given on the command line, its data in a temp
/// folder. Reads its output for the ready line and the children's pids; stops it with SIGINT as Ctrl+C would.
/// </summary>
public sealed partial class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<int>> _pids = new();
    private readonly string _data;

    private AppHostProcess(Process process, string data, IReadOnlyDictionary<string, (int Http, int Grpc)> ports)
    {
        _process = process;
        _data = data;
        Ports = ports;
    }

    public IReadOnlyDictionary<string, (int Http, int Grpc)> Ports { get; }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Every pid a resource was started with, oldest first.</summary>
    public IReadOnlyList<int> PidsOf(string resource) => _pids.TryGetValue(resource, out var pids) ? [.. pids] : [];

    public IEnumerable<int> AllChildPids => _pids.Values.SelectMany(p => p);

    /// <summary>The environment a brokerctl run needs to find this broker.</summary>
    public IReadOnlyDictionary<string, string> BrokerctlEnvironment => new Dictionary<string, string>
    {
        ["BROKER_STORAGE_URL"] = $"http://localhost:{Ports["storage"].Http}",
        ["BROKER_INGEST_URL"] = $"http://localhost:{Ports["ingest"].Http}",
        ["BROKER_INGEST_GRPC_URL"] = $"http://localhost:{Ports["ingest"].Grpc}",
        ["BROKER_DELIVERY_URL"] = $"http://localhost:{Ports["delivery"].Http}",
        ["BROKER_REGISTRY_URL"] = $"http://localhost:{Ports["schemaregistry"].Http}",
    };

    /// <summary>Starts AppHost and waits for its ready line. <paramref name="path"/> replaces PATH (to hide redis-server).</summary>
    public static async Task<AppHostProcess> StartAsync(string? path = null, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArguments)
    {
        var dll = Build.Path("AppHost", "AppHost.dll");
        var data = Path.Combine(Path.GetTempPath(), "apphost-test-" + Guid.NewGuid().ToString("N")[..8]);
        var ports = new Dictionary<string, (int Http, int Grpc)>
        {
            ["storage"] = (LoopbackPort.Free(), LoopbackPort.Free()),
            ["ingest"] = (LoopbackPort.Free(), LoopbackPort.Free()),
            ["delivery"] = (LoopbackPort.Free(), LoopbackPort.Free()),
            ["schemaregistry"] = (LoopbackPort.Free(), 0),
        };
        var arguments = new List<string> { dll, $"--AppHost:DataDirectory={data}", "--AppHost:StopTimeoutSeconds=15" };
        foreach (var (name, (http, grpc)) in ports)
        {
            arguments.Add($"--AppHost:Ports:{name}:Http={http.ToString(CultureInfo.InvariantCulture)}");
            if (grpc > 0)
            {
                arguments.Add($"--AppHost:Ports:{name}:Grpc={grpc.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        arguments.AddRange(extraArguments);
        var start = new ProcessStartInfo(DotnetPath(), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (path is not null)
        {
            start.Environment["PATH"] = path;
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var host = new AppHostProcess(process, data, ports);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (host._output)
            {
                host._output.AppendLine(line);
            }
            if (Started().Match(line) is { Success: true } started)
            {
                host._pids.GetOrAdd(started.Groups[1].Value, _ => new()).Enqueue(int.Parse(started.Groups[2].Value, CultureInfo.InvariantCulture));
            }
            if (line.Contains("AppHost: ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(120))) != ready.Task)
        {
            var output = host.Output;
            await host.DisposeAsync();
            throw new InvalidOperationException($"AppHost did not report ready:\n{output}");
        }
        return host;
    }

    /// <summary>Waits until <paramref name="text"/> is on <paramref name="times"/> lines of the output.</summary>
    public async Task WaitForAsync(string text, int times, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (CountOf(text) < times)
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"'{text}' appeared {CountOf(text)} times, not {times}, within {timeout.TotalSeconds} s:\n{Output}");
            }
            await Task.Delay(100);
        }
    }

    private int CountOf(string text) => Output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>SIGINT (Ctrl+C), then waits for AppHost to exit; its exit code.</summary>
    public async Task<int> InterruptAsync(TimeSpan timeout)
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        using var patience = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(patience.Token);
        return _process.ExitCode;
    }

    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}")
        && !File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>A program's path on PATH, or null.</summary>
    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    public static string DotnetPath() => Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    [GeneratedRegex(@"\[apphost\]\s+(\S+) started \(pid (\d+)\)")]
    private static partial Regex Started();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        // Nothing it started may outlive a test, even a failed one.
        foreach (var pid in AllChildPids.Where(IsAlive))
        {
            try
            {
                using var child = Process.GetProcessById(pid);
                child.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
            }
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Where the build put AppHost and brokerctl: next to the tests' own output (artifacts/bin/&lt;project&gt;/&lt;configuration&gt;).</summary>
public static class Build
{
    public static string Path(string project, string file)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(AppContext.BaseDirectory, "..", "..", project, configuration, file));
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}.");
    }
}
