using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security.Acls;

/// <summary>Where the ACLs come from: Storage keeps them, every other service watches Storage's.</summary>
public interface IAclSource
{
    /// <summary>The ACLs now; null until they have been loaded once. A change is a new snapshot (a new reference).</summary>
    AclSnapshot? Current { get; }

    /// <summary>Completes once the ACLs have been loaded (<see cref="Current"/> is never null again).</summary>
    Task Loaded { get; }
}

public enum AccessOutcome
{
    Allowed,
    Denied,
    /// <summary>The ACLs are not loaded yet: neither yes nor no can be said.</summary>
    Unavailable,
}

/// <summary>An ACL check's answer; <see cref="Message"/> says why, naming the principal, the operation and the resource.</summary>
public readonly record struct AccessDecision(AccessOutcome Outcome, string Message)
{
    public bool Allowed => Outcome == AccessOutcome.Allowed;
}

/// <summary>
/// Kafka's authorizer: the broker's services and superusers may do anything; anyone else needs an ACL that allows the
/// operation on the resource and none that denies it (deny wins; no ACL, no access). An open broker (no credential
/// configured) allows everything. Every check is counted and audited (denials logged as warnings, allows at debug).
/// Decisions are cached per ACL version, since a producer asks the same question for every batch.
/// </summary>
public sealed class AclAuthorizer
{
    internal const int MaxCachedDecisions = 10_000;

    private readonly bool _open;
    private readonly HashSet<string> _superusers;
    private readonly IAclSource? _source;
    private readonly SecurityMetrics _metrics;
    private readonly ILogger _audit;
    private DecisionCache _cache = new(null);

    public AclAuthorizer(IOptions<AuthOptions> options, SecurityMetrics metrics, ILoggerFactory loggers, IAclSource? source = null)
    {
        _open = !options.Value.Enabled;
        _superusers = new HashSet<string>(options.Value.Superusers, StringComparer.Ordinal);
        _source = source;
        _metrics = metrics;
        _audit = loggers.CreateLogger("Broker.Audit");
    }

    /// <summary>True when no credential is configured: everyone may do everything.</summary>
    public bool IsOpen => _open;

    /// <summary>Whether every check of the caller is allowed whatever the ACLs: an open broker, the broker's own service, a superuser.</summary>
    public bool IsUnrestricted(ClaimsPrincipal user) => _open || user.IsService() || _superusers.Contains(user.Name());

    /// <summary>The ACLs checks read now (null before they are loaded, and on an open broker): a new one when they change.</summary>
    public AclSnapshot? Acls => _open ? null : _source?.Current;

    /// <summary>
    /// Completes once checks can be decided: at once on an open broker (or one with no ACL source), else when the ACLs
    /// are first loaded. Work that runs by itself (a Dapr app's subscriptions, a replay) waits for it, since until then
    /// every check of a principal answers <see cref="AccessOutcome.Unavailable"/>, which is no refusal.
    /// </summary>
    public Task WhenLoadedAsync(CancellationToken cancellationToken) =>
        _open || _source is null ? Task.CompletedTask : _source.Loaded.WaitAsync(cancellationToken);

    /// <summary>The decision, counted and audited, from the cache when it was made on these ACLs before.</summary>
    public AccessDecision Check(ClaimsPrincipal user, AclResourceType type, string name, AclOperation operation)
    {
        if (_open)
        {
            return new AccessDecision(AccessOutcome.Allowed, "the broker is open");
        }
        var principal = user.Name();
        AccessDecision decision;
        if (user.IsService() || _superusers.Contains(principal))
        {
            decision = new AccessDecision(AccessOutcome.Allowed, user.IsService() ? "the broker's own service" : "a superuser");
        }
        else if (_source?.Current is not { } snapshot)
        {
            decision = new AccessDecision(AccessOutcome.Unavailable, "The broker's ACLs are not loaded yet; try again in a moment.");
        }
        else
        {
            decision = Decide(snapshot, principal, type, name, operation);
        }
        Audit(principal, type, name, operation, decision);
        return decision;
    }

    /// <summary>
    /// Whether the caller may, for filtering what a list shows: neither counted nor audited (a list is not a request for
    /// each thing in it), and decided from the ACLs without the cache, which one list of 10,000 topics would fill with
    /// one caller's decisions and so throw away everyone else's. No while the ACLs are not loaded.
    /// </summary>
    public bool Allows(ClaimsPrincipal user, AclResourceType type, string name, AclOperation operation)
    {
        if (_open || user.IsService())
        {
            return true;
        }
        var principal = user.Name();
        if (_superusers.Contains(principal))
        {
            return true;
        }
        if (_source?.Current is not { } snapshot)
        {
            return false;
        }
        var (deny, allow) = snapshot.Find(principal, type, name, operation);
        return deny is null && allow is not null;
    }

    private AccessDecision Decide(AclSnapshot snapshot, string principal, AclResourceType type, string name, AclOperation operation)
    {
        var cache = _cache;
        // Its own count, not the dictionary's: ConcurrentDictionary.Count takes every one of its locks, on every check.
        if (!ReferenceEquals(cache.Snapshot, snapshot) || cache.Count > MaxCachedDecisions)
        {
            cache = _cache = new DecisionCache(snapshot);
        }
        // The name is the caller's to choose (a gRPC field holds megabytes): one longer than any ACL names is decided
        // every time, never kept, and quoted only in part, so neither the cache nor a refusal grows with it.
        var cacheable = name.Length <= AclEntry.MaxNameLength;
        var key = new DecisionKey(principal, type, name, operation);
        if (cacheable && cache.Decisions.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var (deny, allow) = snapshot.Find(principal, type, name, operation);
        var shown = AclEntry.Show(name);
        var what = $"Principal '{principal}' may not {AclEntry.Name(operation)} {AclEntry.Name(type)} '{shown}'";
        var decision = deny is not null
            ? new AccessDecision(AccessOutcome.Denied, $"{what}: an ACL denies it ({deny}).")
            : allow is not null
                ? new AccessDecision(AccessOutcome.Allowed, allow.ToString())
                : new AccessDecision(AccessOutcome.Denied, $"{what}: no ACL allows it (it needs {AclEntry.Name(operation)} on {AclEntry.Name(type)} '{shown}').");
        if (cacheable)
        {
            cache.Add(key, decision);
        }
        return decision;
    }

    private void Audit(string principal, AclResourceType type, string name, AclOperation operation, AccessDecision decision)
    {
        _metrics.Decided(type, operation, decision.Outcome);
        if (decision.Outcome != AccessOutcome.Allowed)
        {
            SecurityLog.AccessDenied(_audit, principal, AclEntry.Name(operation), AclEntry.Name(type), AclEntry.Show(name), decision.Message);
        }
        else
        {
            SecurityLog.AccessAllowed(_audit, principal, AclEntry.Name(operation), AclEntry.Name(type), AclEntry.Show(name), decision.Message);
        }
    }

    private readonly record struct DecisionKey(string Principal, AclResourceType Type, string Name, AclOperation Operation);

    /// <summary>How many decisions the cache holds now (for tests: it is bounded, and what fills it).</summary>
    internal int CachedDecisions => _cache.Count;

    /// <summary>The decisions made on one snapshot, and how many: counted as they are added, so a check reads one field.</summary>
    private sealed class DecisionCache(AclSnapshot? snapshot)
    {
        private int _count;

        public AclSnapshot? Snapshot { get; } = snapshot;

        public ConcurrentDictionary<DecisionKey, AccessDecision> Decisions { get; } = new();

        public int Count => Volatile.Read(ref _count);

        public void Add(DecisionKey key, AccessDecision decision)
        {
            if (Decisions.TryAdd(key, decision))
            {
                Interlocked.Increment(ref _count);
            }
        }
    }
}
