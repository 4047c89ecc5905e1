using System.Collections.Concurrent;
using Broker.Contracts.Naming;
using Broker.Delivery.Outbound;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Dapr;

/// <summary>What this instance knows of one app, for the API.</summary>
public sealed record AppView(
    string AppId, string Url, string Protocol, string Source, bool Discovered, IReadOnlyList<AppSubscription.HttpShape> Subscriptions,
    DateTimeOffset? DiscoveredAt, string? LastError, IReadOnlyList<AppSubscriptionView> Delivering)
{
    /// <summary>An app as declared, before this instance runs it (credentials in its URL, from before they were refused, never shown).</summary>
    public static AppView Declared(DaprApp app) => new(app.AppId, OutboundPolicy.Redact(app.Url), app.Protocol.ToString().ToLowerInvariant(), app.Source,
        app.Subscriptions is null, [.. (app.Subscriptions ?? []).Select(AppSubscription.ToHttp)], null, null, []);
}

public sealed record AppSubscriptionView(string Topic, string State);

/// <summary>
/// Delivery to Dapr apps without a sidecar. Every instance runs this: the apps come from configuration
/// (Delivery:Dapr:Apps) and the REST API's store; each app's subscriptions are its declared ones or asked from
/// it every Delivery:Dapr:DiscoveryIntervalMs; each subscription (to the broker's pub/sub name) gets an
/// <see cref="AppDeliverer"/>, a consumer of group <c>appId</c>, so instances share the partitions between them.
/// An app whose URL Delivery:Outbound no longer allows (or that carries credentials) is not called: it shows why.
/// </summary>
internal sealed class DaprAppDelivery(
    IDaprAppStore store, AppDeliveryServices services, IHttpClientFactory httpClients, OutboundPolicy outbound, OutboundHandlers outboundHandlers,
    IOptions<DaprDeliveryOptions> options) : BackgroundService
{
    public const string HttpClientName = "dapr-apps";

    /// <summary>How often the store is read again: an app declared on another instance starts here within this.</summary>
    private static readonly TimeSpan s_storePoll = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, RunningApp> _apps = new(StringComparer.Ordinal);
    private readonly AsyncSignal _wake = new();
    private readonly SemaphoreSlim _reconcile = new(1, 1);

    /// <summary>Looks at the store again now (after an API change on this instance).</summary>
    public void Refresh() => _wake.Set();

    public IReadOnlyList<AppView> Views => [.. _apps.Values.OrderBy(a => a.App.AppId, StringComparer.Ordinal).Select(a => a.View())];

    /// <summary>
    /// What this instance delivers to the app as the store has it now; declared only while the running app is a
    /// different version of it (changed a moment ago and not picked up yet).
    /// </summary>
    public AppView View(DaprApp app) =>
        _apps.TryGetValue(app.AppId, out var running) && running.App.Signature == app.Signature ? running.View() : AppView.Declared(app);

    /// <summary>The apps declared in configuration, by app id.</summary>
    public IReadOnlyDictionary<string, DaprApp> ConfiguredApps { get; } = options.Value.Apps.ToDictionary(
        a => a.Key,
        a => new DaprApp(a.Key, new Uri(a.Value.Url!), ParseProtocol(a.Value.Protocol)!.Value, null, DaprApp.FromConfiguration),
        StringComparer.Ordinal);

    public static AppProtocol? ParseProtocol(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "http" => AppProtocol.Http,
        "grpc" => AppProtocol.Grpc,
        _ => null,
    };

    /// <summary>What is wrong with an app's id, or null.</summary>
    public static string? CheckAppId(string appId) => Names.Check(appId, "Dapr app");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Apps declared through the API are delivered with their declarer's rights: none can be decided (neither yes nor
        // no) before the ACLs arrive from Storage, and a first pass before then would skip every subscription.
        await services.Access.Authorizer.WhenLoadedAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            await ReconcileAsync(stoppingToken);
            await _wake.WaitAsync(s_storePoll, stoppingToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await _reconcile.WaitAsync(cancellationToken);
        try
        {
            await Task.WhenAll(_apps.Values.Select(a => a.StopAsync()));
            _apps.Clear();
        }
        finally
        {
            _reconcile.Release();
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await _reconcile.WaitAsync(cancellationToken);
        try
        {
            var wanted = new Dictionary<string, DaprApp>(ConfiguredApps, StringComparer.Ordinal);
            try
            {
                foreach (var app in await store.ListAsync(cancellationToken))
                {
                    wanted.TryAdd(app.AppId, app);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                DaprDeliveryLog.StoreFailed(services.Logger, ex.Message);
                foreach (var running in _apps.Values.Where(a => a.App.Source == DaprApp.FromApi))
                {
                    wanted.TryAdd(running.App.AppId, running.App);
                }
            }
            // Asked again on every pass: a changed Delivery:Outbound stops (or starts) an app within a pass.
            var refusals = wanted.Values.ToDictionary(a => a.AppId, a => outbound.Check(a.Url), StringComparer.Ordinal);
            foreach (var running in _apps.Values.ToList())
            {
                if (!wanted.TryGetValue(running.App.AppId, out var app) || app.Signature != running.App.Signature
                    || refusals[app.AppId] != running.Refusal)
                {
                    _apps.TryRemove(running.App.AppId, out _);
                    await running.StopAsync();
                }
            }
            var now = services.Time.GetUtcNow();
            var acls = services.Access.Authorizer.Acls;
            await Task.WhenAll(wanted.Values.Select(app =>
            {
                var running = _apps.GetOrAdd(app.AppId, _ => refusals[app.AppId] is { } refusal
                    ? RunningApp.NotCalled(app, refusal, services)
                    : new RunningApp(app, OpenChannel(app), services));
                // Changed ACLs are applied to the subscriptions already known (declared ones are never asked for again):
                // a topic its declarer may no longer read stops, one it may now read starts.
                return now >= running.NextDiscovery ? running.RefreshAsync(options.Value, cancellationToken)
                    : running.AppliedWithOther(acls) ? running.ReapplyAsync(options.Value)
                    : Task.CompletedTask;
            }));
        }
        finally
        {
            _reconcile.Release();
        }
    }

    /// <summary>The app's channel, over the outbound stack every outbound client shares (<see cref="OutboundHandlers"/>).</summary>
    private AppChannel OpenChannel(DaprApp app) => app.Protocol == AppProtocol.Grpc
        ? new GrpcAppChannel(app, outboundHandlers.CreateStack(), outbound.MaxResponseBytes, services.Logger)
        : new HttpAppChannel(app, httpClients.CreateClient(HttpClientName), outbound);

    /// <summary>
    /// One app on this instance: its channel, its subscriptions as last seen, and a deliverer per topic; or, for an
    /// app the outbound policy refuses, no channel at all and the refusal as its error.
    /// </summary>
    private sealed class RunningApp(DaprApp app, AppChannel? channel, AppDeliveryServices services)
    {
        private readonly Dictionary<string, AppDeliverer> _deliverers = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();
        private IReadOnlyList<AppSubscription> _subscriptions = [];
        private DateTimeOffset? _discoveredAt;
        private string? _lastError;
        private bool _applied;
        private AclSnapshot? _appliedAcls;

        public DaprApp App { get; } = app;

        public DateTimeOffset NextDiscovery { get; private set; } = DateTimeOffset.MinValue;

        /// <summary>Why the app is not called (Delivery:Outbound refuses its URL), or null.</summary>
        public string? Refusal { get; private init; }

        public static RunningApp NotCalled(DaprApp app, string refusal, AppDeliveryServices services)
        {
            OutboundLog.AppNotCalled(services.Logger, app.AppId, refusal);
            return new RunningApp(app, null, services) { Refusal = refusal, _lastError = $"Not called: {refusal}", NextDiscovery = DateTimeOffset.MaxValue };
        }

        public async Task RefreshAsync(DaprDeliveryOptions options, CancellationToken cancellationToken)
        {
            if (channel is null)
            {
                return;
            }
            var now = services.Time.GetUtcNow();
            IReadOnlyList<AppSubscription> subscriptions;
            if (App.Subscriptions is { } declared)
            {
                subscriptions = declared;
                NextDiscovery = DateTimeOffset.MaxValue;
            }
            else
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(options.AppTimeoutMs);
                    subscriptions = await channel.DiscoverAsync(timeout.Token);
                    NextDiscovery = now.AddMilliseconds(options.DiscoveryIntervalMs);
                    _lastError = null;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // An app starting up is not listening yet: ask again soon, keep delivering what it had. What the API
                    // shows says whether it answered and no more; the log has the details.
                    _lastError = $"Discovery failed: {OutboundErrors.Describe(ex)}";
                    DaprDeliveryLog.DiscoveryFailed(services.Logger, App.AppId, OutboundErrors.Details(ex));
                    NextDiscovery = now.AddMilliseconds(Math.Min(options.DiscoveryIntervalMs, 2_000));
                    return;
                }
            }
            _discoveredAt = now;
            await ApplyAsync(subscriptions, options);
        }

        /// <summary>
        /// Whether the app's subscriptions were last filtered by its declarer's rights under other ACLs than
        /// <paramref name="acls"/> (apps with no declarer are delivered with the operator's: ACLs do not change them).
        /// </summary>
        public bool AppliedWithOther(AclSnapshot? acls) => App.Principal is not null && _applied && !ReferenceEquals(acls, _appliedAcls);

        /// <summary>The subscriptions last seen, filtered again by the declarer's rights now.</summary>
        public Task ReapplyAsync(DaprDeliveryOptions options)
        {
            IReadOnlyList<AppSubscription> subscriptions;
            lock (_lock)
            {
                subscriptions = _subscriptions;
            }
            return ApplyAsync(subscriptions, options);
        }

        private async Task ApplyAsync(IReadOnlyList<AppSubscription> subscriptions, DaprDeliveryOptions options)
        {
            // Read before the checks: ACLs that change while they run are applied on the next pass.
            _appliedAcls = services.Access.Authorizer.Acls;
            _applied = true;
            var wanted = new Dictionary<string, AppSubscription>(StringComparer.Ordinal);
            // Topics whose right cannot be decided now (the ACLs are not loaded): what runs goes on, nothing starts, and
            // the next pass after the ACLs arrive decides.
            var undecided = new HashSet<string>(StringComparer.Ordinal);
            foreach (var subscription in subscriptions.Where(s => s.PubsubName == options.PubsubName))
            {
                if (Names.Check(subscription.Topic) is { } topicError)
                {
                    DaprDeliveryLog.SubscriptionRejected(services.Logger, App.AppId, subscription.Topic, topicError);
                }
                else if (subscription.DeadLetterTopic is { } deadLetter && Names.Check(deadLetter, "dead-letter topic") is { } deadLetterError)
                {
                    DaprDeliveryLog.SubscriptionRejected(services.Logger, App.AppId, subscription.Topic, deadLetterError);
                }
                else if (App.Principal is { } principal
                    && services.Access.Decide(Principals.Create(principal, "dapr-app"), AclResourceType.Topic, subscription.Topic, AclOperation.Read) is { Allowed: false } refused)
                {
                    if (refused.Outcome == AccessOutcome.Unavailable)
                    {
                        undecided.Add(subscription.Topic);
                        DaprDeliveryLog.SubscriptionWaiting(services.Logger, App.AppId, subscription.Topic, refused.Message);
                    }
                    else
                    {
                        // Delivered with the rights of whoever declared the app: a topic it may not read is not delivered.
                        DaprDeliveryLog.SubscriptionRejected(services.Logger, App.AppId, subscription.Topic, refused.Message);
                    }
                }
                else if (!wanted.TryAdd(subscription.Topic, subscription))
                {
                    // daprd refuses a topic subscribed twice on one pub/sub; the first one stands.
                    DaprDeliveryLog.SubscriptionRejected(services.Logger, App.AppId, subscription.Topic, "the app subscribes to it more than once");
                }
            }
            List<AppDeliverer> stopping;
            lock (_lock)
            {
                _subscriptions = [.. subscriptions];
                stopping = [.. _deliverers.Where(d => !undecided.Contains(d.Key) && (!wanted.TryGetValue(d.Key, out var s) || s.Signature != d.Value.Subscription.Signature))
                    .Select(d => d.Value)];
                foreach (var deliverer in stopping)
                {
                    _deliverers.Remove(deliverer.Subscription.Topic);
                }
            }
            foreach (var deliverer in stopping)
            {
                await deliverer.StopAsync();
                services.Metrics.SubscriptionStopped();
                DaprDeliveryLog.SubscriptionStopped(services.Logger, App.AppId, deliverer.Subscription.Topic);
            }
            foreach (var subscription in wanted.Values)
            {
                lock (_lock)
                {
                    if (_deliverers.ContainsKey(subscription.Topic))
                    {
                        continue;
                    }
                }
                AppDeliverer started;
                try
                {
                    started = new AppDeliverer(App, subscription, channel!, services);
                }
                catch (FormatException ex)
                {
                    DaprDeliveryLog.SubscriptionRejected(services.Logger, App.AppId, subscription.Topic, ex.Message);
                    continue;
                }
                lock (_lock)
                {
                    _deliverers[subscription.Topic] = started;
                }
                started.Start();
                services.Metrics.SubscriptionStarted();
                DaprDeliveryLog.SubscriptionStarted(services.Logger, App.AppId, subscription.Topic,
                    subscription.DefaultPath ?? "(rules only)", subscription.Bulk.Enabled ? "bulk" : "one event per call");
            }
        }

        public async Task StopAsync()
        {
            List<AppDeliverer> stopping;
            lock (_lock)
            {
                stopping = [.. _deliverers.Values];
                _deliverers.Clear();
            }
            await Task.WhenAll(stopping.Select(d => d.StopAsync()));
            foreach (var deliverer in stopping)
            {
                services.Metrics.SubscriptionStopped();
            }
            channel?.Dispose();
        }

        public AppView View()
        {
            lock (_lock)
            {
                return new AppView(App.AppId, OutboundPolicy.Redact(App.Url), App.Protocol.ToString().ToLowerInvariant(), App.Source, App.Subscriptions is null,
                    [.. _subscriptions.Select(AppSubscription.ToHttp)], _discoveredAt, _lastError,
                    [.. _deliverers.Values.OrderBy(d => d.Subscription.Topic, StringComparer.Ordinal).Select(d => new AppSubscriptionView(d.Subscription.Topic, d.State))]);
            }
        }
    }
}
