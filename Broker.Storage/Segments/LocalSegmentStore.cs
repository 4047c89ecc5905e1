namespace Broker.Storage.Segments;

/// <summary>
/// Segments as files under a folder, for a one-machine broker. A file is written to a temporary name and
/// renamed into place, so a reader never sees half a segment.
/// </summary>
public sealed class LocalSegmentStore(string root) : ISegmentStore
{
    private readonly string _root = Path.GetFullPath(root);

    public string Kind => "local";

    public string Location => _root;

    public async Task PutAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var path = PathOf(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await file.WriteAsync(content, cancellationToken);
                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken)
    {
        var path = PathOf(name);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous);
            var total = 0;
            while (total < into.Length)
            {
                var read = await RandomAccess.ReadAsync(handle, into[total..], position + total, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            return total;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SegmentNotFoundException(name, ex);
        }
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(PathOf(name));
        }
        catch (DirectoryNotFoundException)
        {
            // Not there: nothing to delete.
        }
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            yield break;
        }
        foreach (var path in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetRelativePath(_root, path).Replace(Path.DirectorySeparatorChar, '/');
            if (name.StartsWith(prefix, StringComparison.Ordinal) && !name.EndsWith(".tmp", StringComparison.Ordinal))
            {
                yield return new StoredObject(name, File.GetLastWriteTimeUtc(path));
            }
        }
        await Task.CompletedTask;
    }

    private string PathOf(string name)
    {
        var path = Path.GetFullPath(Path.Combine(_root, name));
        // Names come from topic names, which cannot hold '..' or separators, but a store never writes outside its root.
        return path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new ArgumentException($"Segment name '{name}' leaves the store's folder.", nameof(name));
    }
}
