using Broker.Storage.Log;
using Microsoft.Extensions.Options;

namespace Broker.Storage.Apis;

/// <summary>Counts this instance's open Tail streams against Storage:MaxTailStreams.</summary>
public sealed class TailStreams(IOptions<StorageOptions> options)
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Takes a place for one stream (dispose the answer to give it back), or refuses with the setting named.</summary>
    public Place Enter()
    {
        var max = options.Value.MaxTailStreams;
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            throw new LogException(LogError.Busy,
                $"This Storage instance serves its maximum of {max} Tail streams (Storage:MaxTailStreams); retry later.");
        }
        return new Place(this);
    }

    public readonly struct Place(TailStreams owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._open);
    }
}
