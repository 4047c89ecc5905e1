namespace Broker.Contracts.Batches;

/// <summary>A batch whose bytes do not hold together: bad length, unknown magic or codec, or a CRC mismatch.</summary>
public sealed class CorruptRecordBatchException : Exception
{
    public CorruptRecordBatchException(string message) : base(message) { }

    public CorruptRecordBatchException(string message, Exception inner) : base(message, inner) { }

    public CorruptRecordBatchException() { }
}
