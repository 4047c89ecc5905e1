namespace SchemaRegistry.Storage;

/// <summary>
/// The store failed (Redis unreachable or refusing, the file not writable) or did not answer in time. The
/// message and the inner exception are for the log only: they name endpoints, keys and client internals, and
/// the API answers a fixed message (Confluent's 50001 or 50002).
/// </summary>
public sealed class SchemaStoreException(bool timedOut, Exception inner)
    : Exception(timedOut ? "The schema store did not answer in time." : "The schema store failed.", inner)
{
    /// <summary>True when the store did not answer in time (50002), false when it failed (50001).</summary>
    public bool TimedOut { get; } = timedOut;
}
