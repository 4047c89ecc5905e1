using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests;

/// <summary>
/// The real AppHost started through Aspire's testing builder (DCP runs redis-server and the services as processes):
/// ports chosen by Aspire, its data in a temp folder, the dashboard off unless asked for. Records every process id a
/// resource ran with, so that a test can check none outlives the app.
/// </summary>
public sealed class BrokerApp : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(4);
    private readonly DistributedApplication _app;
    private readonly string _data;
    private readonly ConcurrentDictionary<string, (string Resource, int Pid)> _pids = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _watching = new();
    private readonly Task _watch;
    private bool _stopped;

    private BrokerApp(DistributedApplication app, string data)
    {
        _app = app;
        _data = data;
        _watch = WatchAsync(_watching.Token);
    }

    public DistributedApplication App => _app;

    /// <summary>AppHost's data directory for this app (Redis's files, s3rver's, the registry's).</summary>
    public string DataDirectory => _data;

    /// <summary>The REST endpoint of a service (storage, ingest, delivery, schemaregistry).</summary>
    public Uri Http(string service) => _app.GetEndpoint(service, "http");

    public Uri Grpc(string service) => _app.GetEndpoint(service, "grpc");

    /// <summary>The environment a brokerctl run needs to find this broker.</summary>
    public IReadOnlyDictionary<string, string> BrokerctlEnvironment => new Dictionary<string, string>
    {
        ["BROKER_STORAGE_URL"] = Http("storage").ToString().TrimEnd('/'),
        ["BROKER_INGEST_URL"] = Http("ingest").ToString().TrimEnd('/'),
        ["BROKER_INGEST_GRPC_URL"] = Grpc("ingest").ToString().TrimEnd('/'),
        ["BROKER_DELIVERY_URL"] = Http("delivery").ToString().TrimEnd('/'),
        ["BROKER_REGISTRY_URL"] = Http("schemaregistry").ToString().TrimEnd('/'),
    };

    /// <summary>Every process id a resource (by its model name; replicas share it) ran with.</summary>
    public IReadOnlyList<int> PidsOf(string resource) => [.. _pids.Values.Where(p => p.Resource == resource).Select(p => p.Pid).Distinct()];

    /// <summary>Every process the app ran, with what they started (a project runs as `dotnet run` and its app).</summary>
    public IEnumerable<int> AllPids => _pids.Values.Select(p => p.Pid).Concat(_descendants.Keys).Distinct();

    private readonly ConcurrentDictionary<int, byte> _descendants = new();

    /// <summary>The processes <paramref name="pid"/> started (as last captured), deepest first.</summary>
    public IReadOnlyList<int> DescendantsOf(int pid)
    {
        var found = new List<int>();
        var frontier = new List<int> { pid };
        while (frontier.Count > 0)
        {
            var next = _parents.Where(p => frontier.Contains(p.Value)).Select(p => p.Key).ToList();
            found.AddRange(next);
            frontier = next;
        }
        found.Reverse();
        return found;
    }

    private readonly ConcurrentDictionary<int, int> _parents = new();

    /// <summary>Remembers the processes the resources' processes started, as they are now.</summary>
    public void CaptureDescendants()
    {
        var parents = new Dictionary<int, int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), out var pid))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                    // pid (comm) state ppid …: the command may hold spaces, so read after its closing parenthesis.
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                    _parents[pid] = parents[pid];
                }
                catch (IOException)
                {
                }
            }
        }
        var known = new HashSet<int>(_pids.Values.Select(p => p.Pid));
        bool added;
        do
        {
            added = false;
            foreach (var (pid, parent) in parents)
            {
                if (known.Contains(parent) && known.Add(pid))
                {
                    _descendants[pid] = 0;
                    added = true;
                }
            }
        }
        while (added);
    }

    /// <summary>
    /// Starts the AppHost with <paramref name="arguments"/> (--AppHost:… settings) and waits until the broker resource
    /// is Running: every service healthy. <paramref name="environment"/> goes to every service. <paramref name="fixedPorts"/>:
    /// the ports a user's AppHost has (5100, 5200, …), as the README's commands expect; else Aspire's choice.
    /// </summary>
    public static async Task<BrokerApp> StartAsync(string[]? arguments = null, IReadOnlyDictionary<string, string>? environment = null, bool dashboard = false,
        bool fixedPorts = false)
    {
        var data = Path.Combine(Path.GetTempPath(), "apphost-" + Guid.NewGuid().ToString("N")[..8]);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [$"--DcpPublisher:RandomizePorts={(fixedPorts ? "false" : "true")}", $"--AppHost:DataDirectory={data}", .. arguments ?? []],
            (options, _) => options.DisableDashboard = !dashboard);
        if (environment is not null)
        {
            foreach (var service in builder.Resources.OfType<ProjectResource>())
            {
                service.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
                {
                    foreach (var (key, value) in environment)
                    {
                        context.EnvironmentVariables[key] = value;
                    }
                }));
            }
        }
        var app = await builder.BuildAsync();
        var broker = new BrokerApp(app, data);
        using var timeout = new CancellationTokenSource(s_startTimeout);
        try
        {
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceAsync("broker", KnownResourceStates.Running, timeout.Token);
            broker.CaptureDescendants();
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            var logs = await broker.StatesAsync();
            await broker.DisposeAsync();
            throw new TimeoutException($"The broker was not Running within {s_startTimeout}: {logs}");
        }
        return broker;
    }

    /// <summary>Each resource's state and health, for failure messages.</summary>
    public Task<string> StatesAsync()
    {
        var model = _app.Services.GetRequiredService<DistributedApplicationModel>();
        var states = model.Resources.Select(r => _app.ResourceNotifications.TryGetCurrentState(r.Name, out var e)
            ? $"{r.Name}: {e.Snapshot.State?.Text} {e.Snapshot.HealthStatus}"
            : $"{r.Name}: (no state)");
        return Task.FromResult(string.Join("; ", states));
    }

    /// <summary>The lines a resource logged so far (the broker resource's say what was chosen).</summary>
    public async Task<IReadOnlyList<string>> LogsOfAsync(string resource, TimeSpan wait)
    {
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await foreach (var batch in _app.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resource).WithCancellation(timeout.Token))
            {
                lines.AddRange(batch.Select(l => l.Content));
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // What was logged by then.
        }
        return lines;
    }

    /// <summary>Stops the app: DCP stops every process it started.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        CaptureDescendants();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _app.StopAsync(timeout.Token);
        await _watching.CancelAsync();
        await Quietly(_watch);
    }

    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}")
        && !File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Waits until every process the app ran has exited (DCP stops them in the background).</summary>
    public async Task<IReadOnlyList<int>> SurvivorsAsync(TimeSpan wait)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var alive = AllPids.Where(IsAlive).ToList();
            if (alive.Count == 0 || clock.Elapsed > wait)
            {
                return alive;
            }
            await Task.Delay(200);
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var update in _app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                var pid = update.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
                if (pid is not null && int.TryParse(Convert.ToString(pid, CultureInfo.InvariantCulture), out var id) && id > 0)
                {
                    _pids[$"{update.ResourceId}/{id}"] = (update.Resource.Name, id);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
            // Nothing it started may outlive a test, even a failed one.
            foreach (var pid in AllPids.Where(IsAlive))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                }
            }
            _watching.Dispose();
            try
            {
                Directory.Delete(_data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>Where the build put brokerctl: next to the tests' own output (artifacts/bin/&lt;project&gt;/&lt;configuration&gt;).</summary>
public static class Build
{
    public static string Path(string project, string file)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(AppContext.BaseDirectory, "..", "..", project, configuration, file));
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}.");
    }

    /// <summary>A program's path on PATH, or null.</summary>
    public static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => System.IO.Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    public static string Dotnet() => Environment.ProcessPath is { } path && System.IO.Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
}
