using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security.Quotas;

/// <summary>
/// A token bucket per principal and kind (produce, fetch), in bytes, as Kafka's client quotas: a request is taken
/// while the principal's bucket is not in debt and its bytes are then charged (so one large request may overdraw it);
/// while in debt the principal is refused (429 / RESOURCE_EXHAUSTED) or held back for the time the debt takes to repay
/// at its rate, which is the retry hint.
/// </summary>
public sealed class ClientQuotas
{
    /// <summary>Buckets kept at most; past that, idle ones go (a JWT issuer can mint any number of principals).</summary>
    private const int MaxBuckets = 100_000;

    private readonly QuotaOptions _options;
    private readonly TimeProvider _time;
    private readonly SecurityMetrics _metrics;
    private readonly ILogger<ClientQuotas> _logger;
    private readonly ConcurrentDictionary<(string Principal, QuotaKind Kind), TokenBucket> _buckets = new();

    public ClientQuotas(IOptions<QuotaOptions> options, TimeProvider time, SecurityMetrics metrics, ILogger<ClientQuotas> logger)
    {
        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>How long the principal must wait before its next request of this kind (zero: go ahead).</summary>
    public TimeSpan Delay(ClaimsPrincipal user, QuotaKind kind)
    {
        if (Bucket(user, kind) is not { } bucket)
        {
            return TimeSpan.Zero;
        }
        var delay = bucket.Delay(_time.GetTimestamp(), _time.TimestampFrequency);
        if (delay > TimeSpan.Zero)
        {
            _metrics.Throttled(Name(kind));
            SecurityLog.QuotaThrottled(_logger, user.Name(), Name(kind), bucket.Rate, (long)Math.Ceiling(delay.TotalMilliseconds));
        }
        return delay;
    }

    /// <summary>Counts bytes a request of the principal's moved.</summary>
    public void Charge(ClaimsPrincipal user, QuotaKind kind, long bytes)
    {
        if (bytes <= 0 || Bucket(user, kind) is not { } bucket)
        {
            return;
        }
        bucket.Take(bytes, _time.GetTimestamp(), _time.TimestampFrequency);
        _metrics.QuotaBytes(Name(kind), bytes);
    }

    /// <summary>
    /// The most bytes one answer to the principal should carry: its bucket's size when it has a quota of this kind
    /// (so a consumer handed large batches is still held to its rate), else <paramref name="otherwise"/>.
    /// </summary>
    public long MaxBytes(ClaimsPrincipal user, QuotaKind kind, long otherwise) =>
        !user.IsService() && Rate(user.Name(), kind) is { } rate ? Math.Max(1, Math.Min(otherwise, (long)(rate * _options.BurstSeconds))) : otherwise;

    /// <summary>The principal's rate of this kind in bytes per second, or null when unlimited.</summary>
    public long? Rate(string principal, QuotaKind kind)
    {
        var rates = _options.Principals.GetValueOrDefault(principal) ?? _options.Default;
        return kind == QuotaKind.Produce ? rates.ProduceBytesPerSecond ?? _options.Default.ProduceBytesPerSecond : rates.FetchBytesPerSecond ?? _options.Default.FetchBytesPerSecond;
    }

    private TokenBucket? Bucket(ClaimsPrincipal user, QuotaKind kind)
    {
        if (user.IsService())
        {
            return null;
        }
        var principal = user.Name();
        if (Rate(principal, kind) is not { } rate)
        {
            return null;
        }
        if (_buckets.TryGetValue((principal, kind), out var bucket))
        {
            return bucket;
        }
        if (_buckets.Count >= MaxBuckets)
        {
            _buckets.Clear();
        }
        return _buckets.GetOrAdd((principal, kind), new TokenBucket(rate, rate * _options.BurstSeconds, _time.GetTimestamp()));
    }

    private static string Name(QuotaKind kind) => kind == QuotaKind.Produce ? "produce" : "fetch";

    /// <summary>Bytes that refill at <see cref="Rate"/> per second up to a capacity, and may go negative (debt).</summary>
    private sealed class TokenBucket(long rate, double capacity, long now)
    {
        private readonly Lock _lock = new();
        private readonly double _capacity = capacity;
        private double _tokens = capacity;
        private long _at = now;

        public long Rate { get; } = rate;

        public TimeSpan Delay(long now, long frequency)
        {
            lock (_lock)
            {
                Refill(now, frequency);
                return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / Rate);
            }
        }

        public void Take(long bytes, long now, long frequency)
        {
            lock (_lock)
            {
                Refill(now, frequency);
                _tokens -= bytes;
            }
        }

        private void Refill(long now, long frequency)
        {
            _tokens = Math.Min(_capacity, _tokens + ((double)(now - _at) / frequency * Rate));
            _at = now;
        }
    }
}
