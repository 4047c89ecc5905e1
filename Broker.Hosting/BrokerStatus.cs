using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Aspire.Hosting;

/// <summary>
/// The broker resource's state: Running while every service has an instance Running and healthy, Starting before that,
/// and what was chosen where something was left out (no Redis, say) in its log, which the dashboard shows.
/// </summary>
internal static class BrokerStatus
{
    public static Task FollowAsync(BrokerResource broker, IReadOnlyList<string> notes, InitializeResourceEvent e, CancellationToken cancellationToken)
    {
        foreach (var note in notes)
        {
            if (note.StartsWith("Redis: none", StringComparison.Ordinal))
            {
                BrokerHostingLog.LeftOut(e.Logger, note);
            }
            else
            {
                BrokerHostingLog.Chosen(e.Logger, note);
            }
        }
        _ = Task.Run(() => WatchAsync(broker, e, cancellationToken), cancellationToken);
        return Task.CompletedTask;
    }

    private static async Task WatchAsync(BrokerResource broker, InitializeResourceEvent e, CancellationToken cancellationToken)
    {
        var services = broker.Services.Values.ToHashSet();
        // Per instance (a service with replicas has several): whether it is Running and healthy.
        var ready = new Dictionary<string, (IResource Service, bool Ready)>(StringComparer.Ordinal);
        string? shown = null;
        try
        {
            await foreach (var update in e.Notifications.WatchAsync(cancellationToken))
            {
                if (!services.Contains(update.Resource))
                {
                    continue;
                }
                ready[update.ResourceId] = (update.Resource, update.Snapshot.State?.Text == KnownResourceStates.Running
                    && update.Snapshot.HealthStatus == HealthStatus.Healthy);
                var waitingFor = services.Where(s => !ready.Values.Any(i => i.Ready && ReferenceEquals(i.Service, s))).Select(s => s.Name).Order(StringComparer.Ordinal).ToList();
                var state = waitingFor.Count == 0 ? KnownResourceStates.Running : KnownResourceStates.Starting;
                if (state == shown)
                {
                    continue;
                }
                shown = state;
                await e.Notifications.PublishUpdateAsync(broker, snapshot => snapshot with
                {
                    State = new ResourceStateSnapshot(state, state == KnownResourceStates.Running ? KnownResourceStateStyles.Success : KnownResourceStateStyles.Info),
                });
                if (state == KnownResourceStates.Running)
                {
                    BrokerHostingLog.Running(e.Logger, string.Join(", ", services.Select(s => s.Name).Order(StringComparer.Ordinal)));
                }
                else
                {
                    BrokerHostingLog.Waiting(e.Logger, string.Join(", ", waitingFor));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The app is stopping.
        }
    }
}
