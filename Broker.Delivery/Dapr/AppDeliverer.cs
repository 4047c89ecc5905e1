using System.Diagnostics;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Dapr;
using Broker.Contracts.Delivery;
using Broker.Delivery.Consuming;
using Broker.Delivery.Outbound;
using Grpc.Core;

namespace Broker.Delivery.Dapr;

/// <summary>
/// Delivers one subscription of one app, as daprd would: a consumer of group <c>appId</c> on the topic (made
/// on demand), records routed by the subscription's rules, sent one at a time (up to the window at once) or
/// in bulk, and settled by the app's answer. SUCCESS acks; RETRY and failures nack (the broker's backoff,
/// then the dead-letter topic after the topic's max attempts); DROP and 404 write the record to the
/// subscription's dead-letter topic (the topic's own when it names none, so nothing is lost) and ack it.
/// Records in flight when it stops are not answered: the group's next owner delivers them again.
/// </summary>
internal sealed class AppDeliverer : IDisposable
{
    private readonly DaprApp _app;
    private readonly AppSubscription _subscription;
    private readonly AppChannel _channel;
    private readonly AppDeliveryServices _services;
    private readonly (EventRule Rule, string Path)[] _rules;
    private readonly Lock _runningLock = new();
    private readonly HashSet<Task> _running = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>Throws FormatException when a rule does not compile.</summary>
    public AppDeliverer(DaprApp app, AppSubscription subscription, AppChannel channel, AppDeliveryServices services)
    {
        _app = app;
        _subscription = subscription;
        _channel = channel;
        _services = services;
        _rules = [.. subscription.Rules.Select(r => (EventRule.Parse(r.Match), r.Path))];
        State = "starting";
    }

    public AppSubscription Subscription => _subscription;

    /// <summary>What it is doing, for the API: delivering, or why not.</summary>
    public string State { get; private set; }

    public void Start() => _loop = RunAsync(_stop.Token);

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        Dispose();
    }

    public void Dispose() => _stop.Dispose();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var options = _services.Options;
        for (var attempt = 0; !cancellationToken.IsCancellationRequested; attempt++)
        {
            ConsumerMember? member = null;
            try
            {
                await _services.Topics.EnsureAsync(_subscription.Topic, _app.Principal, cancellationToken);
                var window = Math.Min(_services.DeliveryOptions.MaxWindow,
                    _subscription.Bulk.Enabled ? Math.Max(options.Window, 2 * _subscription.Bulk.MaxMessagesCount) : options.Window);
                var ackTimeout = Math.Min(_services.DeliveryOptions.MaxAckTimeoutMs, options.AppTimeoutMs + 5_000);
                var spec = new SubscriptionSpec(_app.AppId, _subscription.Topic, window, DeliveryMode.Concurrent, StartPosition.Earliest,
                    TimeSpan.FromMilliseconds(ackTimeout), $"dapr:{_app.AppId}", _subscription.DeadLetterTopic);
                member = await _services.Sessions.JoinAsync(spec, cancellationToken);
                State = "delivering";
                attempt = 0;
                await (_subscription.Bulk.Enabled ? DeliverBulkAsync(member, cancellationToken) : DeliverEachAsync(member, cancellationToken));
                if (member.Failure is { } failure)
                {
                    throw failure;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                State = ex is RpcException rpc ? $"waiting: {rpc.Status.Detail}" : $"waiting: {ex.Message}";
                DaprDeliveryLog.SubscriptionFailed(_services.Logger, _app.AppId, _subscription.Topic, State);
            }
            finally
            {
                await DrainAsync();
                if (member is not null)
                {
                    await _services.Sessions.LeaveAsync(member);
                }
            }
            if (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250 * (1 << Math.Min(attempt, 7)), 30_000)), _services.Time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        State = "stopped";
    }

    /// <summary>One call per record, up to the window at once (the member hands out no more than that).</summary>
    private async Task DeliverEachAsync(ConsumerMember member, CancellationToken cancellationToken)
    {
        var taken = new List<Delivered>(member.Window);
        while (!cancellationToken.IsCancellationRequested && member.Failure is null)
        {
            taken.Clear();
            if (member.Take(member.Window, long.MaxValue, taken) == 0)
            {
                await member.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
                continue;
            }
            foreach (var delivery in taken)
            {
                Track(DeliverOneAsync(member, delivery, cancellationToken));
            }
        }
    }

    /// <summary>Calls of up to MaxMessagesCount records, each waiting at most MaxAwaitDurationMs for the call to fill.</summary>
    private async Task DeliverBulkAsync(ConsumerMember member, CancellationToken cancellationToken)
    {
        var bulk = _subscription.Bulk;
        while (!cancellationToken.IsCancellationRequested && member.Failure is null)
        {
            var taken = new List<Delivered>(bulk.MaxMessagesCount);
            if (member.Take(bulk.MaxMessagesCount, long.MaxValue, taken) == 0)
            {
                await member.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
                continue;
            }
            var deadline = _services.Time.GetTimestamp() + (long)(bulk.MaxAwaitDurationMs / 1000.0 * _services.Time.TimestampFrequency);
            while (taken.Count < bulk.MaxMessagesCount && member.Failure is null)
            {
                var left = _services.Time.GetElapsedTime(_services.Time.GetTimestamp(), deadline);
                if (left <= TimeSpan.Zero)
                {
                    break;
                }
                if (member.Take(bulk.MaxMessagesCount - taken.Count, long.MaxValue, taken) == 0)
                {
                    await member.WaitAsync(left, cancellationToken);
                }
            }
            Track(DeliverManyAsync(member, taken, cancellationToken));
        }
    }

    private async Task DeliverOneAsync(ConsumerMember member, Delivered delivery, CancellationToken cancellationToken)
    {
        using var appEvent = ToEvent(delivery);
        var previous = Activity.Current;
        Activity.Current = delivery.Record.Span;
        try
        {
            if (Route(appEvent) is not { } path)
            {
                _services.Metrics.Unrouted(_app.AppId, _subscription.Topic);
                Settle(member, delivery, AppAnswer.Success);
                return;
            }
            var answer = await CallAsync(token => _channel.DeliverAsync(appEvent, path, _subscription, token), 1, cancellationToken);
            await SettleAsync(member, delivery, answer[0], cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: unanswered, so the group's next owner delivers it again.
        }
        catch (Exception ex)
        {
            Settle(member, delivery, new AppAnswer(AppStatus.Retry, ex.Message));
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    private async Task DeliverManyAsync(ConsumerMember member, List<Delivered> deliveries, CancellationToken cancellationToken)
    {
        var events = deliveries.Select(ToEvent).ToList();
        try
        {
            // One call per route: daprd groups a bulk by the path its rules pick.
            var byPath = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            for (var i = 0; i < events.Count; i++)
            {
                if (Route(events[i]) is { } path)
                {
                    (byPath.TryGetValue(path, out var list) ? list : byPath[path] = []).Add(i);
                }
                else
                {
                    _services.Metrics.Unrouted(_app.AppId, _subscription.Topic);
                    Settle(member, deliveries[i], AppAnswer.Success);
                }
            }
            await Task.WhenAll(byPath.Select(async group =>
            {
                var selected = group.Value.Select(i => events[i]).ToList();
                var answers = await CallAsync(token => _channel.DeliverBulkAsync(selected, group.Key, _subscription, token), selected.Count, cancellationToken);
                for (var j = 0; j < group.Value.Count; j++)
                {
                    await SettleAsync(member, deliveries[group.Value[j]], answers[j], cancellationToken);
                }
            }));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // What was not answered yet fails as a whole (a later answer to a settled one is refused harmlessly).
            foreach (var delivery in deliveries)
            {
                Settle(member, delivery, new AppAnswer(AppStatus.Retry, ex.Message), quiet: true);
            }
        }
        finally
        {
            foreach (var appEvent in events)
            {
                appEvent.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs one call to the app under Delivery:Dapr:AppTimeoutMs; a timeout or transport failure is a retry of every
    /// event in it, whose reason says "the target did not answer" and no more (which failure it was is logged).
    /// </summary>
    private async Task<AppAnswer[]> CallAsync(Func<CancellationToken, Task<AppAnswer>> call, int count, CancellationToken cancellationToken) =>
        await CallAsync(async token => new[] { await call(token) }, count, cancellationToken);

    private async Task<AppAnswer[]> CallAsync(Func<CancellationToken, Task<AppAnswer[]>> call, int count, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_services.Options.AppTimeoutMs);
        var started = _services.Time.GetTimestamp();
        AppAnswer[] answers;
        try
        {
            answers = await call(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or RpcException or IOException or OutboundException)
        {
            // Stopping: no answer at all, so the group's next owner delivers the events again.
            cancellationToken.ThrowIfCancellationRequested();
            var shown = OutboundErrors.Describe(ex);
            OutboundLog.CallFailed(_services.Logger, $"App {_app.AppId}: delivery of {_subscription.Topic}", OutboundPolicy.Display(_app.Url), shown,
                timeout.IsCancellationRequested ? $"no answer within {_services.Options.AppTimeoutMs} ms" : OutboundErrors.Details(ex));
            answers = [.. Enumerable.Repeat(new AppAnswer(AppStatus.Retry, shown), count)];
        }
        _services.Metrics.Called(_app.AppId, _subscription.Topic, _services.Time.GetElapsedTime(started), answers);
        return answers;
    }

    private async Task SettleAsync(ConsumerMember member, Delivered delivery, AppAnswer answer, CancellationToken cancellationToken)
    {
        if (answer.Status == AppStatus.Drop)
        {
            if (member.Session?.Topic is not { } topic)
            {
                return; // left meanwhile: the next owner delivers it again
            }
            try
            {
                var (partition, offset) = await _services.DeadLetters.WriteAsync(member.Key, topic, delivery.Record, cancellationToken, answer.Reason,
                    _subscription.DeadLetterTopic);
                DaprDeliveryLog.Dropped(_services.Logger, _app.AppId, _subscription.Topic, delivery.Record.Partition, delivery.Record.Offset, answer.Reason,
                    _subscription.DeadLetterTopic ?? topic.DeadLetterTopic, partition, offset);
                _services.DeliveryMetrics.DeadLettered(member.Tags);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Not written: a retry keeps it, rather than an ack losing it.
                answer = new AppAnswer(AppStatus.Retry, $"{answer.Reason}; the dead-letter write failed: {ex.Message}");
            }
        }
        Settle(member, delivery, answer);
    }

    private void Settle(ConsumerMember member, Delivered delivery, AppAnswer answer, bool quiet = false)
    {
        var result = answer.Status == AppStatus.Retry ? member.Nack(delivery.DeliveryId, answer.Reason) : member.Ack(delivery.DeliveryId);
        if (!result.Ok && !quiet)
        {
            // Its partition moved on while the app worked on it: the new owner delivers it again.
            DaprDeliveryLog.AnswerNotTaken(_services.Logger, _app.AppId, _subscription.Topic, result.Error!);
        }
    }

    /// <summary>The path for the event: the first rule that matches, else the default; null when neither applies.</summary>
    private string? Route(AppEvent appEvent)
    {
        if (_rules.Length > 0 && appEvent.Parsed is { } cloudEvent)
        {
            foreach (var (rule, path) in _rules)
            {
                if (rule.Matches(cloudEvent))
                {
                    return path;
                }
            }
        }
        return _subscription.DefaultPath;
    }

    private AppEvent ToEvent(Delivered delivery)
    {
        string? traceParent = null;
        string? traceState = null;
        foreach (var header in delivery.Headers)
        {
            if (header.Name == RecordHeaderNames.TraceParent)
            {
                traceParent = Encoding.ASCII.GetString(header.Value.Span);
            }
            else if (header.Name == "tracestate")
            {
                traceState = Encoding.ASCII.GetString(header.Value.Span);
            }
        }
        var record = delivery.Record;
        var cloudEvent = CloudEventEnvelope.AsEnvelope(record.Value, _subscription.Topic, _subscription.PubsubName, "broker",
            DateTimeOffset.FromUnixTimeMilliseconds(record.Timestamp), traceParent);
        return new AppEvent(delivery, cloudEvent, traceParent, traceState);
    }

    private void Track(Task task)
    {
        lock (_runningLock)
        {
            _running.Add(task);
        }
        _ = task.ContinueWith(static (done, state) =>
        {
            var self = (AppDeliverer)state!;
            lock (self._runningLock)
            {
                self._running.Remove(done);
            }
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task DrainAsync()
    {
        Task[] running;
        lock (_runningLock)
        {
            running = [.. _running];
        }
        await Task.WhenAll(running);
    }
}
