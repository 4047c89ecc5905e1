namespace Broker.ServiceDefaults.Concurrency;

/// <summary>
/// An auto-reset wake-up for one waiter at a time: <see cref="Set"/> before the wait is not lost, and many
/// sets before a wait count once. Used where a loop sleeps until "something changed, look again" (Delivery's consumers, Storage's ACL cache).
/// </summary>
public sealed class AsyncSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiter;
    private bool _set;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            if (waiter is null)
            {
                _set = true;
                return;
            }
        }
        waiter.TrySetResult();
    }

    /// <summary>Answers true when set, false when <paramref name="timeout"/> passed first (infinite: -1 ms).</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_set)
            {
                _set = false;
                return true;
            }
            waiter = _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        try
        {
            // No timer when there is no time-out: this wait runs once per message on a busy stream.
            await (timeout == Timeout.InfiniteTimeSpan ? waiter.Task.WaitAsync(cancellationToken) : waiter.Task.WaitAsync(timeout, cancellationToken));
            return true;
        }
        catch (TimeoutException)
        {
            Forget(waiter);
            return waiter.Task.IsCompleted;
        }
        catch (OperationCanceledException)
        {
            Forget(waiter);
            throw;
        }
    }

    private void Forget(TaskCompletionSource waiter)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_waiter, waiter))
            {
                _waiter = null;
            }
        }
    }
}
