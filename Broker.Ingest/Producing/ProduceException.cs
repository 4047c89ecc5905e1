namespace Broker.Ingest.Producing;

public enum ProduceError
{
    InvalidArgument,
    /// <summary>The request as a whole is over Ingest:MaxRequestBytes.</summary>
    RequestTooLarge,
    TopicNotFound,
    /// <summary>Ingest's buffer is full: retry after a moment.</summary>
    Backpressure,
    OutOfOrderSequence,
    /// <summary>Storage could not be reached (after retries), or the ACLs are not loaded yet.</summary>
    Unavailable,
    /// <summary>The principal has no right to write the topic (or to create it).</summary>
    Forbidden,
    /// <summary>The principal is over its produce quota: retry after <see cref="ProduceException.RetryAfter"/>.</summary>
    OverQuota,
}

/// <summary>A produce request refused with a message a producer can act on. Nothing of it was written.</summary>
public sealed class ProduceException(ProduceError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public ProduceError Error { get; } = error;

    /// <summary>When to try again, where the refusal knows it better than Ingest:RetryAfterSeconds (a quota's debt).</summary>
    public TimeSpan? RetryAfter { get; init; }
}
