using System.Collections.Concurrent;

namespace Broker.Storage.Waiting;

/// <summary>
/// Wakes readers waiting for new data in a partition. Appends (local, or from any Storage instance
/// through the Redis channel) call <see cref="Notify"/>; waiters take the partition's current signal
/// before they look at the log, so an append between their look and their wait is never missed.
/// </summary>
public sealed class AppendSignals
{
    private readonly ConcurrentDictionary<(string Topic, int Partition), Signal> _signals = new();

    /// <summary>The signal to await for the partition's next append; take it before checking the log.</summary>
    public Task NextAppend(string topic, int partition) => _signals.GetOrAdd((topic, partition), static _ => new Signal()).Task;

    public void Notify(string topic, int partition)
    {
        if (_signals.TryGetValue((topic, partition), out var signal))
        {
            signal.Fire();
        }
    }

    /// <summary>Drops the signals nobody waits on, so the map tracks live waiters, not every partition ever read.</summary>
    public void Prune()
    {
        foreach (var (key, signal) in _signals)
        {
            // A waiter may have taken this signal between the idle check and the removal; waking it makes it
            // re-check the log and take the partition's new signal, so no wake-up is lost.
            if (signal.IsIdle && _signals.TryRemove(KeyValuePair.Create(key, signal)))
            {
                signal.Fire();
            }
        }
    }

    private sealed class Signal
    {
        private TaskCompletionSource _current = NewSource();
        private int _touched = 1;

        public Task Task
        {
            get
            {
                Volatile.Write(ref _touched, 1);
                return Volatile.Read(ref _current).Task;
            }
        }

        public bool IsIdle => Interlocked.Exchange(ref _touched, 0) == 0;

        public void Fire() =>
            Interlocked.Exchange(ref _current, NewSource()).TrySetResult();

        private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
