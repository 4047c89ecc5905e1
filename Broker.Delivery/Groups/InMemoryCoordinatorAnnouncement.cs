namespace Broker.Delivery.Groups;

/// <summary>Says loudly at start-up that consumer groups live in this process only (no ConnectionStrings:redis).</summary>
internal sealed class InMemoryCoordinatorAnnouncement(ILogger<InMemoryCoordinatorAnnouncement> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        DeliveryLog.InMemoryCoordinator(logger);
        DeliveryLog.InMemoryReplays(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
