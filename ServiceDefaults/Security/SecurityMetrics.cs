using System.Diagnostics.Metrics;
using Broker.ServiceDefaults.Security.Acls;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// Meter <c>Broker.Security</c>: ACL decisions by resource type, operation and outcome, refused credentials, and quota
/// throttling by kind. Principals are not tags (JWT subjects are unbounded); the audit log names them.
/// </summary>
public sealed class SecurityMetrics
{
    public const string MeterName = "Broker.Security";

    private readonly Counter<long> _decisions;
    private readonly Counter<long> _authenticationFailures;
    private readonly Counter<long> _throttled;
    private readonly Counter<long> _quotaBytes;

    public SecurityMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _decisions = meter.CreateCounter<long>("broker.auth.decisions", "{decision}", "ACL checks, by resource type, operation and outcome.");
        _authenticationFailures = meter.CreateCounter<long>("broker.auth.failures", "{request}", "Requests refused for a missing or invalid credential.");
        _throttled = meter.CreateCounter<long>("broker.quota.throttled", "{request}", "Requests answered 429 / RESOURCE_EXHAUSTED (or delayed) because a principal was over its quota.");
        _quotaBytes = meter.CreateCounter<long>("broker.quota.bytes", "By", "Bytes counted against principals' quotas, by kind (produce, fetch).");
    }

    public void Decided(AclResourceType type, AclOperation operation, AccessOutcome outcome) => _decisions.Add(1,
        new KeyValuePair<string, object?>("resource_type", AclEntry.Name(type)),
        new KeyValuePair<string, object?>("operation", AclEntry.Name(operation)),
        new KeyValuePair<string, object?>("outcome", outcome switch
        {
            AccessOutcome.Allowed => "allowed",
            AccessOutcome.Denied => "denied",
            _ => "unavailable",
        }));

    public void AuthenticationFailed(string reason) => _authenticationFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Throttled(string kind) => _throttled.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void QuotaBytes(string kind, long bytes) => _quotaBytes.Add(bytes, new KeyValuePair<string, object?>("kind", kind));
}
