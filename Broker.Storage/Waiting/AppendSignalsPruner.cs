namespace Broker.Storage.Waiting;

/// <summary>Prunes idle signals once a minute.</summary>
internal sealed class AppendSignalsPruner(AppendSignals signals, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            signals.Prune();
        }
    }
}
