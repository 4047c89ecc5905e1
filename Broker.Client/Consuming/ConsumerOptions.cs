namespace Broker.Client.Consuming;

/// <summary>How a consumer reads its group's records.</summary>
public sealed class ConsumerOptions
{
    /// <summary>
    /// <see cref="ConsumeMode.Concurrent"/> (default): up to <see cref="Window"/> records in flight from all partitions, a
    /// retried record holding nothing back. <see cref="ConsumeMode.Ordered"/>: one record in flight per partition.
    /// </summary>
    public ConsumeMode Mode { get; set; } = ConsumeMode.Concurrent;

    /// <summary>Where a group with no committed offset starts on a partition: the earliest record kept (default) or the end.</summary>
    public StartPosition Start { get; set; } = StartPosition.Earliest;

    /// <summary>Most records delivered and not yet acked or nacked, per topic (default 100).</summary>
    public int Window { get; set; } = 100;

    /// <summary>A record not acked within this time counts as nacked; null: Delivery's default.</summary>
    public TimeSpan? AckTimeout { get; set; }

    /// <summary>How this consumer shows in the group's description; null: its member id.</summary>
    public string? ConsumerName { get; set; }

    internal void Validate()
    {
        if (Window is < 1 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(Window), Window, "ConsumerOptions.Window is from 1 to 100,000.");
        }
        if (AckTimeout is { } timeout && (timeout <= TimeSpan.Zero || timeout.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(AckTimeout), timeout, "ConsumerOptions.AckTimeout is more than zero.");
        }
    }
}

/// <summary>Whether a consumer's records are processed one per partition at a time or side by side.</summary>
public enum ConsumeMode
{
    /// <summary>Up to the window in flight from all partitions; a retried record holds nothing back.</summary>
    Concurrent,

    /// <summary>One record in flight per partition: records of a partition are processed in offset order.</summary>
    Ordered,
}

/// <summary>Where a group with no committed offset starts reading a partition.</summary>
public enum StartPosition
{
    /// <summary>The first record kept.</summary>
    Earliest,

    /// <summary>The end: only records produced from then on.</summary>
    Latest,
}
