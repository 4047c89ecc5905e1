namespace Broker.ServiceDefaults.Security.Quotas;

/// <summary>
/// Client quotas as Kafka has them (section <c>Quotas</c>): bytes per second a principal may produce and fetch, per
/// service instance. <c>Quotas:Default</c> applies to every principal without its own <c>Quotas:Principals:{name}</c>;
/// unset means unlimited. The broker's own services are never held to a quota.
/// </summary>
public sealed class QuotaOptions
{
    public const string SectionName = "Quotas";

    public QuotaRates Default { get; set; } = new();

    public Dictionary<string, QuotaRates> Principals { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How many seconds of its rate a principal may send at once after being idle (the bucket's size).</summary>
    public double BurstSeconds { get; set; } = 1;

    public IEnumerable<string> Problems()
    {
        if (BurstSeconds is <= 0 or > 3600)
        {
            yield return "Quotas:BurstSeconds is more than 0 and at most 3600.";
        }
        foreach (var (name, rates) in Principals.Append(new("Default", Default)))
        {
            if (rates.ProduceBytesPerSecond is <= 0 || rates.FetchBytesPerSecond is <= 0)
            {
                yield return $"Quotas:{(name == "Default" ? name : "Principals:" + name)}: a rate is a positive number of bytes per second (leave it unset for no limit).";
            }
        }
    }
}

public sealed class QuotaRates
{
    public long? ProduceBytesPerSecond { get; set; }

    public long? FetchBytesPerSecond { get; set; }
}

public enum QuotaKind
{
    Produce,
    Fetch,
}
