using System.Diagnostics;
using Broker.AppHost.Resources;

namespace Broker.AppHost.Running;

/// <summary>
/// Runs one resource for as long as AppHost runs: waits until what it depends on is healthy, starts its process with
/// its output streamed to the terminal, watches its health, restarts it with a doubling delay when it exits on its
/// own (the delay starts again once it stayed healthy a minute), and stops it with SIGTERM, then a kill.
/// </summary>
internal sealed class Supervisor(Resource resource, IReadOnlyList<Supervisor> dependencies, Terminal terminal, AppHostOptions options, Action changed)
{
    private static readonly TimeSpan s_stable = TimeSpan.FromMinutes(1);
    private readonly TaskCompletionSource _firstHealthy = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;

    public Resource Resource { get; } = resource;

    public string State { get; private set; } = "waiting";

    public int Restarts { get; private set; }

    public int? Pid { get; private set; }

    /// <summary>Completes when the resource is first healthy.</summary>
    public Task FirstHealthy => _firstHealthy.Task;

    public bool IsHealthy => State == "healthy";

    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await Task.WhenAll(dependencies.Select(d => d.FirstHealthy)).WaitAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var delay = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            Process process;
            try
            {
                process = Start();
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or FileNotFoundException or InvalidOperationException)
            {
                SetState("crashed");
                terminal.Say($"{Resource.Name} could not be started: {ex.Message}", problem: true);
                if (!await DelayAsync(delay, stopping))
                {
                    break;
                }
                delay = Next(delay);
                continue;
            }
            var started = Stopwatch.GetTimestamp();
            var exited = process.WaitForExitAsync(CancellationToken.None);
            await WatchHealthAsync(process, exited, stopping);
            if (stopping.IsCancellationRequested)
            {
                break;
            }
            // It exited by itself: a crash, whatever its code.
            SetState("crashed");
            if (Stopwatch.GetElapsedTime(started) > s_stable)
            {
                delay = TimeSpan.FromSeconds(1);
            }
            terminal.Say($"{Resource.Name} exited with code {process.ExitCode}; restarting in {delay.TotalSeconds:0} s.", problem: true);
            _process = null;
            Pid = null;
            process.Dispose();
            if (!await DelayAsync(delay, stopping))
            {
                break;
            }
            delay = Next(delay);
            Restarts++;
        }
    }

    /// <summary>SIGTERM, then a kill (with its whole tree) after AppHost:StopTimeoutSeconds.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            SetState("stopped");
            return;
        }
        try
        {
            if (!process.HasExited)
            {
                SetState("stopping");
                Signals.Terminate(process.Id);
                using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(options.StopTimeoutSeconds));
                try
                {
                    await process.WaitForExitAsync(patience.Token);
                }
                catch (OperationCanceledException)
                {
                    terminal.Say($"{Resource.Name} did not stop within {options.StopTimeoutSeconds} s; killing it.", problem: true);
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
        Pid = null;
        SetState("stopped");
    }

    private Process Start()
    {
        SetState("starting");
        var start = Resource.CreateStartInfo();
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true; // nothing of the terminal's input reaches a child
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Pid = process.Id;
        terminal.Say($"{Resource.Name} started (pid {process.Id}).");
        changed();
        return process;
    }

    private void Forward(string? line)
    {
        if (!string.IsNullOrEmpty(line))
        {
            terminal.Line(Resource.Name, line);
        }
    }

    /// <summary>Checks health until the process exits or AppHost stops: a few times a second until healthy, then every 2 s.</summary>
    private async Task WatchHealthAsync(Process process, Task exited, CancellationToken stopping)
    {
        var since = Stopwatch.GetTimestamp();
        var warned = false;
        while (!exited.IsCompleted && !stopping.IsCancellationRequested)
        {
            bool healthy;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                healthy = await Resource.IsHealthyAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                healthy = false;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (healthy && !IsHealthy)
            {
                SetState("healthy");
                terminal.Say($"{Resource.Name} is healthy after {Stopwatch.GetElapsedTime(since).TotalSeconds:0.0} s.");
                _firstHealthy.TrySetResult();
            }
            else if (!healthy && IsHealthy)
            {
                SetState("unhealthy");
                since = Stopwatch.GetTimestamp();
                warned = false;
            }
            else if (!healthy && !warned && Stopwatch.GetElapsedTime(since) > TimeSpan.FromSeconds(options.HealthTimeoutSeconds))
            {
                warned = true;
                terminal.Say($"{Resource.Name} is not healthy after {options.HealthTimeoutSeconds} s; still waiting (its output is above).", problem: true);
            }
            try
            {
                await Task.WhenAny(exited, Task.Delay(IsHealthy ? TimeSpan.FromSeconds(2) : TimeSpan.FromMilliseconds(200), stopping));
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void SetState(string state)
    {
        if (State != state)
        {
            State = state;
            changed();
        }
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(delay, stopping);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private TimeSpan Next(TimeSpan delay) => TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, options.RestartMaxDelayMs));
}
