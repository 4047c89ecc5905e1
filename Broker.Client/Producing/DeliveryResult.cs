namespace Broker.Client.Producing;

/// <summary>Where a produced record is in the log.</summary>
/// <param name="Topic">The record's topic.</param>
/// <param name="Partition">The partition it was written to.</param>
/// <param name="Offset">Its offset in that partition.</param>
public readonly record struct DeliveryResult(string Topic, int Partition, long Offset);

/// <summary>What <c>Produce</c>'s callback learns: the record's place in the log, or why it has none.</summary>
/// <param name="Result">Where the record is; default when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why the record was not produced; null when it was.</param>
public readonly record struct DeliveryReport(DeliveryResult Result, ProduceException? Error)
{
    /// <summary>Whether the record is in the log.</summary>
    public bool Delivered => Error is null;
}
