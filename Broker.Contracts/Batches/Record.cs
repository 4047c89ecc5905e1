namespace Broker.Contracts.Batches;

/// <summary>A record header: a name and bytes (a W3C traceparent travels as one).</summary>
public readonly record struct RecordHeader(string Name, ReadOnlyMemory<byte> Value);

/// <summary>A record read from a batch. Key and value slice the batch's bytes; nothing is copied.</summary>
public readonly record struct Record(
    long Offset,
    long Timestamp,
    ReadOnlyMemory<byte>? Key,
    ReadOnlyMemory<byte> Value,
    IReadOnlyList<RecordHeader> Headers);
