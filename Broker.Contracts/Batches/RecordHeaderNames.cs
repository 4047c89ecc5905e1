namespace Broker.Contracts.Batches;

/// <summary>Record headers the services agree on.</summary>
public static class RecordHeaderNames
{
    /// <summary>The W3C trace context, carried from producer to consumer.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>A record's own time-to-live: decimal milliseconds after its timestamp, past which it is not delivered.</summary>
    public const string TtlMs = "ttl-ms";
}
