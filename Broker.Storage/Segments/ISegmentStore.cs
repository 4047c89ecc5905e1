namespace Broker.Storage.Segments;

/// <summary>
/// Where segments live: immutable objects written whole and read by byte range. S3 (any S3-compatible
/// server) or a local folder. Names are <see cref="SegmentFormat.ObjectName"/>'s.
/// </summary>
public interface ISegmentStore
{
    /// <summary>"s3" or "local", for logs and metrics.</summary>
    string Kind { get; }

    /// <summary>Where objects go, said at start-up (bucket and prefix, or the folder).</summary>
    string Location { get; }

    /// <summary>Writes the whole object, replacing any object of that name (a repeated upload after a crash writes the same name).</summary>
    Task PutAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Reads <paramref name="into"/>.Length bytes from <paramref name="position"/>; answers how many were read (fewer only at the end).</summary>
    Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken);

    /// <summary>Deletes the object; deleting one that is not there is not an error.</summary>
    Task DeleteAsync(string name, CancellationToken cancellationToken);

    /// <summary>The objects whose names start with <paramref name="prefix"/>, with when each was last written, a page at a time.</summary>
    IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken cancellationToken);
}

/// <summary>An object in the segment store: its name and when it was last written.</summary>
public readonly record struct StoredObject(string Name, DateTimeOffset LastModified);

/// <summary>The object is not in the store (deleted by retention while a reader looked for it).</summary>
public sealed class SegmentNotFoundException(string name, Exception? inner = null)
    : Exception($"Segment object '{name}' is not in the segment store.", inner);
