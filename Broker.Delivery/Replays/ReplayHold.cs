namespace Broker.Delivery.Replays;

/// <summary>
/// One run's hold on its job's lease: the epoch (fencing token) every write of the job carries, the run's stop signal,
/// and until when the lease is surely valid by this instance's own clock: the start of the last renewal that answered,
/// plus the lease, minus one renewal interval (what a delivery started just before then may take). Deliveries to the
/// target wait while it is not (a renewal late because Redis is slow or unreachable, or the process was paused), so an
/// instance that lost the lease without knowing it stops delivering within the lease, not only when it finds out.
/// </summary>
internal sealed class ReplayHold : IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _validFor;
    private long _validUntil;
    private int _lost;
    private TaskCompletionSource _renewed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A hold taken under <paramref name="epoch"/> by a call made at <paramref name="askedAt"/> (a <paramref name="time"/> timestamp).</summary>
    public ReplayHold(long epoch, long askedAt, TimeProvider time, TimeSpan lease, TimeSpan margin, CancellationToken stoppingToken)
    {
        Epoch = epoch;
        _time = time;
        _validFor = (long)((lease - margin).TotalSeconds * time.TimestampFrequency);
        _validUntil = askedAt + _validFor;
        Stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
    }

    public long Epoch { get; }

    /// <summary>Cancelled when the run must stop: the service stops, a cancel request, the run ended, or the lease was lost.</summary>
    public CancellationTokenSource Stop { get; }

    /// <summary>Another instance took the job: nothing more of it may be written by this run.</summary>
    public bool Lost => Volatile.Read(ref _lost) == 1;

    /// <summary>What a write refused for the lost lease throws: the run's stop, cancelled.</summary>
    public OperationCanceledException LostError() => new("Another instance took the replay job's lease; this run stops.", Stop.Token);

    /// <summary>Whether the lease is surely still this run's now.</summary>
    public bool IsValid => _time.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>Marks the lease lost and stops the run; true the first time (who found out says so, once).</summary>
    public bool Lose()
    {
        if (Interlocked.Exchange(ref _lost, 1) != 0)
        {
            return false;
        }
        Stop.Cancel();
        return true;
    }

    /// <summary>A renewal asked at <paramref name="askedAt"/> kept the lease: valid a lease from then, less the margin.</summary>
    public void Renewed(long askedAt)
    {
        var until = askedAt + _validFor;
        long current;
        while ((current = Volatile.Read(ref _validUntil)) < until && Interlocked.CompareExchange(ref _validUntil, until, current) != current)
        {
        }
        Interlocked.Exchange(ref _renewed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Returns at once while the lease is surely valid; otherwise waits for a renewal (or the run's stop).</summary>
    public async ValueTask WhileValidAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var renewed = Volatile.Read(ref _renewed).Task;
            cancellationToken.ThrowIfCancellationRequested();
            if (IsValid)
            {
                return;
            }
            await renewed.WaitAsync(cancellationToken);
        }
    }

    public void Dispose() => Stop.Dispose();
}
