using System.Globalization;
using System.Security.Claims;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Quotas;

namespace Broker.Ingest.Producing;

/// <summary>
/// What every produce path (HTTP, the gRPC stream, Dapr's publish API) asks before it produces: may this principal
/// write the topic (its ACLs), and is it within its produce quota; and what it counts once the records are taken.
/// Refusals are <see cref="ProduceException"/>s each path answers in its own shape (403, 429 with Retry-After, gRPC statuses).
/// </summary>
public sealed class ProduceGate(AccessControl access, ClientQuotas quotas)
{
    public void Admit(ClaimsPrincipal user, string topic, AclOperation operation = AclOperation.Write)
    {
        var decision = access.Decide(user, AclResourceType.Topic, topic, operation);
        if (!decision.Allowed)
        {
            throw new ProduceException(decision.Outcome == AccessOutcome.Denied ? ProduceError.Forbidden : ProduceError.Unavailable, decision.Message);
        }
        var delay = quotas.Delay(user, QuotaKind.Produce);
        if (delay > TimeSpan.Zero)
        {
            throw new ProduceException(ProduceError.OverQuota,
                $"Principal '{user.Name()}' is over its produce quota ({quotas.Rate(user.Name(), QuotaKind.Produce)?.ToString(CultureInfo.InvariantCulture)} bytes/s); retry in {Math.Ceiling(delay.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} ms.")
            {
                RetryAfter = delay,
            };
        }
    }

    /// <summary>Counts the records' bytes (keys, values, headers) against the principal's produce quota.</summary>
    public void Charge(ClaimsPrincipal user, IReadOnlyList<OutgoingRecord> records)
    {
        long bytes = 0;
        foreach (var record in records)
        {
            bytes += record.Value.Length + (record.Key?.Length ?? 0);
            foreach (var header in record.Headers)
            {
                bytes += header.Name.Length + header.Value.Length;
            }
        }
        quotas.Charge(user, QuotaKind.Produce, bytes);
    }
}
