using System.Security.Claims;
using Broker.ServiceDefaults.Security.Quotas;

namespace Broker.Delivery.Consuming;

/// <summary>A consumer's fetch quota: the bytes of what it was handed (keys, values, headers) count against its principal's rate.</summary>
internal readonly struct FetchQuota(ClientQuotas quotas, ClaimsPrincipal user)
{
    /// <summary>The most bytes to hand the consumer at once: its quota's burst when it has one (at least one record goes anyway).</summary>
    public long MaxBytes(long otherwise) => quotas.MaxBytes(user, QuotaKind.Fetch, otherwise);

    /// <summary>How long to hold the consumer back before it is handed more (zero when within its quota).</summary>
    public TimeSpan Delay() => quotas.Delay(user, QuotaKind.Fetch);

    public async ValueTask ThrottleAsync(CancellationToken cancellationToken)
    {
        if (Delay() is { } delay && delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken);
        }
    }

    public void Charge(List<Delivered> delivered)
    {
        long bytes = 0;
        foreach (var delivery in delivered)
        {
            bytes += delivery.Record.Value.Length + (delivery.Record.Key?.Length ?? 0);
            foreach (var header in delivery.Record.Headers)
            {
                bytes += header.Name.Length + header.Value.Length;
            }
        }
        quotas.Charge(user, QuotaKind.Fetch, bytes);
    }
}
