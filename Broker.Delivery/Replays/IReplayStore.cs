namespace Broker.Delivery.Replays;

/// <summary>
/// Where replay jobs live, so any Delivery instance can run one and a restarted one resumes it: Redis when
/// configured, this process's memory otherwise (jobs then end with the process, said at start-up).
/// </summary>
public interface IReplayStore
{
    Task CreateAsync(ReplayJob job, CancellationToken cancellationToken);

    Task<ReplayJob?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every job, newest first.</summary>
    Task<IReadOnlyList<ReplayJob>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Writes the job's state and progress (the lease holder only).</summary>
    Task SaveAsync(ReplayJob job, CancellationToken cancellationToken);

    /// <summary>Takes or renews the job's lease for <paramref name="holder"/>; true when it holds it now.</summary>
    Task<bool> LeaseAsync(string id, string holder, TimeSpan lease, CancellationToken cancellationToken);

    Task ReleaseAsync(string id, string holder, CancellationToken cancellationToken);

    /// <summary>Whether some instance holds the job's lease.</summary>
    Task<bool> IsLeasedAsync(string id, CancellationToken cancellationToken);

    Task RequestCancelAsync(string id, CancellationToken cancellationToken);

    Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken);
}
