using System.Collections.Concurrent;
using Broker.Delivery.Groups;

namespace Broker.Delivery.Consuming;

/// <summary>
/// The consumers behind HTTP polling: one per (group, topic, consumer id), made by the first poll and kept
/// while it polls or acks; one that stays quiet for Delivery:HttpSessionTimeoutMs leaves its group (its
/// unacked records go to the others). Settings of the first poll hold for the consumer's life, except the
/// window, which each poll may change.
/// </summary>
internal sealed class HttpConsumers(GroupSessions sessions, ConsumerServices services) : BackgroundService
{
    private readonly ConcurrentDictionary<(GroupTopic Key, string Consumer), Lazy<Task<ConsumerMember>>> _consumers = new();

    /// <summary>The consumer for <paramref name="consumerId"/>, joining its group on the first poll; <paramref name="windowGiven"/>: the poll set a window.</summary>
    public async Task<ConsumerMember> GetOrJoinAsync(string consumerId, SubscriptionSpec spec, bool windowGiven, CancellationToken cancellationToken)
    {
        var key = (new GroupTopic(spec.Group, spec.Topic), consumerId);
        while (true)
        {
            var entry = _consumers.GetOrAdd(key, _ => new Lazy<Task<ConsumerMember>>(() => sessions.JoinAsync(spec, CancellationToken.None)));
            ConsumerMember member;
            try
            {
                member = await entry.Value.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                _consumers.TryRemove(new KeyValuePair<(GroupTopic, string), Lazy<Task<ConsumerMember>>>(key, entry));
                throw;
            }
            if (member.Gone.IsCancellationRequested)
            {
                // It left (timed out, or its topic went away): the next poll starts a new consumer.
                _consumers.TryRemove(new KeyValuePair<(GroupTopic, string), Lazy<Task<ConsumerMember>>>(key, entry));
                if (member.Failure is not null)
                {
                    throw member.Failure;
                }
                continue;
            }
            member.Touch();
            if (windowGiven && member.Window != spec.Window)
            {
                member.Window = spec.Window;
            }
            return member;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var timeout = services.Options.HttpSessionTimeoutMs;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(timeout / 4, 50, 1000)), services.Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = services.NowMs;
            foreach (var (key, entry) in _consumers)
            {
                if (entry.Value.IsCompletedSuccessfully && entry.Value.Result is var member
                    && (member.Gone.IsCancellationRequested || now - member.LastSeenMs > timeout))
                {
                    _consumers.TryRemove(new KeyValuePair<(GroupTopic, string), Lazy<Task<ConsumerMember>>>(key, entry));
                    await sessions.LeaveAsync(member);
                }
            }
        }
    }
}
