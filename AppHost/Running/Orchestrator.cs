using Broker.AppHost.Resources;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.AppHost.Running;

/// <summary>
/// Runs the resource model: one <see cref="Supervisor"/> per resource, each starting once what it depends on is
/// healthy; says "ready" with the status table once all are healthy, shows the table again whenever a state changes
/// after that, and on shutdown (Ctrl+C, SIGTERM) stops every resource after the ones that depend on it.
/// </summary>
internal sealed class Orchestrator(ResourceModel model, Terminal terminal, IOptions<AppHostOptions> options) : BackgroundService
{
    /// <summary>What AppHost writes once everything is healthy: scripts and tests wait for it.</summary>
    public const string ReadyLine = "AppHost: ready";

    private readonly List<Supervisor> _supervisors = [];
    private readonly SemaphoreSlim _changed = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var note in model.Notes)
        {
            terminal.Say(note, problem: note.StartsWith("Redis: none", StringComparison.Ordinal));
        }
        var byResource = new Dictionary<Resource, Supervisor>();
        foreach (var resource in model.Resources)
        {
            terminal.Register(resource.Name);
            var supervisor = new Supervisor(resource, [.. resource.DependsOn.Select(d => byResource[d])], terminal, options.Value, () => _changed.Release());
            byResource[resource] = supervisor;
            _supervisors.Add(supervisor);
        }
        var running = _supervisors.Select(s => s.RunAsync(stoppingToken)).ToList();
        try
        {
            await Task.WhenAll(_supervisors.Select(s => s.FirstHealthy)).WaitAsync(stoppingToken);
            while (_changed.Wait(0, CancellationToken.None))
            {
                // The start-up's own changes are in the table below.
            }
            ShowTable();
            terminal.Say($"{ReadyLine}: {_supervisors.Count} resources healthy. Ctrl+C stops everything.");
            while (!stoppingToken.IsCancellationRequested)
            {
                await _changed.WaitAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromMilliseconds(300), stoppingToken); // one table per burst of changes
                while (_changed.Wait(0, CancellationToken.None))
                {
                }
                ShowTable();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await Task.WhenAll(running);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        terminal.Say("stopping everything.");
        await base.StopAsync(cancellationToken);
        // Dependents first: a resource stops once everything that waits for it has stopped.
        var stopped = new Dictionary<Supervisor, Task>();
        Task StopOf(Supervisor supervisor)
        {
            if (!stopped.TryGetValue(supervisor, out var task))
            {
                var dependents = _supervisors.Where(s => s.Resource.DependsOn.Contains(supervisor.Resource)).Select(StopOf).ToList();
                task = Task.WhenAll(dependents).ContinueWith(_ => supervisor.StopAsync(), TaskScheduler.Default).Unwrap();
                stopped[supervisor] = task;
            }
            return task;
        }
        await Task.WhenAll(_supervisors.Select(StopOf).ToList());
        ShowTable();
        terminal.Say("AppHost: everything stopped.");
    }

    private void ShowTable() =>
        terminal.Table(_supervisors.Select(s => (s.Resource.Name, s.State, s.Pid, s.Restarts, s.Resource.Endpoints)));

    public override void Dispose()
    {
        _changed.Dispose();
        base.Dispose();
    }
}
