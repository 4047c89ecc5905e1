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
    /// <summary>Storage could not be reached (after retries).</summary>
    Unavailable,
}

/// <summary>A produce request refused with a message a producer can act on. Nothing of it was written.</summary>
public sealed class ProduceException(ProduceError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public ProduceError Error { get; } = error;
}
