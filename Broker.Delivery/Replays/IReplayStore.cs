namespace Broker.Delivery.Replays;

/// <summary>
/// Where replay jobs live, so any Delivery instance can run one and a restarted one resumes it: Redis when
/// configured, this process's memory otherwise (jobs then end with the process, said at start-up).
/// <para>
/// A job is run under its lease, and each taking of the lease gets a new, higher <b>epoch</b> (a fencing token).
/// Every write of the job's state and progress carries the writer's epoch and is refused, atomically with the write,
/// when a newer one exists: an instance that was paused or cut off past its lease, while another took the job, finds
/// out by its first write after waking instead of overwriting the new owner's progress.
/// </para>
/// </summary>
public interface IReplayStore
{
    Task CreateAsync(ReplayJob job, CancellationToken cancellationToken);

    Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every job, newest first.</summary>
    Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes the job's state and progress under the lease epoch <paramref name="epoch"/>. Refused (nothing written)
    /// when a newer epoch took the job, or when the stored job has already ended.
    /// </summary>
    Task<ReplaySave> SaveAsync(ReplayJob job, long epoch, CancellationToken cancellationToken);

    /// <summary>
    /// Takes the job's lease for <paramref name="holder"/> (<paramref name="epoch"/> 0: a new epoch, higher than every
    /// earlier one), or renews the one held under <paramref name="epoch"/> (the same epoch, also when it lapsed and
    /// nobody took it since). Answers the epoch held now, or 0 when the caller does not hold the lease (a renewal that
    /// answers 0 has lost it for good).
    /// </summary>
    Task<long> LeaseAsync(string id, string holder, long epoch, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Lets the lease go, if <paramref name="holder"/> still holds it under <paramref name="epoch"/>.</summary>
    Task ReleaseAsync(string id, string holder, long epoch, CancellationToken cancellationToken);

    /// <summary>Whether some instance holds the job's lease.</summary>
    Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the job (cancelled) if no instance holds its lease, under a new epoch, so that an instance whose lease
    /// lapsed cannot write over it later; false when an instance holds the lease (it sees the cancel request) or the
    /// job has already ended.
    /// </summary>
    Task<bool> CancelIdleAsync(ReplayJob job, CancellationToken cancellationToken);

    Task RequestCancelAsync(string id, CancellationToken cancellationToken);

    Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken);
}

/// <summary>What became of a write of a job's state and progress.</summary>
public enum ReplaySave
{
    Saved,

    /// <summary>Another instance took the job's lease since the writer's epoch (it was paused or cut off): nothing written.</summary>
    Fenced,

    /// <summary>The stored job has already ended (completed, failed or cancelled): nothing written.</summary>
    Ended,
}
