using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Broker.Contracts.Batches;
using Broker.Delivery.Outbound;
using Broker.Delivery.StorageAccess;
using Broker.Delivery.Telemetry;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Replays;

/// <summary>
/// Runs replay jobs. Every instance looks for jobs nobody runs; the one that takes a job's lease runs it,
/// renewing the lease, and writes its progress every Delivery:Replay:ProgressIntervalMs. An instance that
/// stops or dies lets the lease lapse, and whichever instance takes it next resumes from the written
/// progress. Partitions are read with two reads under way each (Storage fetches segment chunks ahead), a
/// few partitions at once, under the job's rate limit. A URL target Delivery:Outbound no longer allows (or one with
/// credentials, stored before they were refused) is not called: the job fails saying why.
/// </summary>
public sealed class ReplayRunner(
    IReplayStore store, LogClient log, IHttpClientFactory http, ReplayMetrics metrics, AccessControl access, TimeProvider time,
    IOptions<ReplayOptions> options, OutboundPolicy outbound, ILogger<ReplayRunner> logger) : BackgroundService
{
    public const string HttpClientName = "replay";
    private readonly ReplayOptions _options = options.Value;
    private readonly string _holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<string, Task> _running = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _saving = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A job acts for whoever asked for it: before the ACLs arrive from Storage its rights can be neither granted
        // nor refused, and a job taken then would only be put back.
        await access.Authorizer.WhenLoadedAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.PollIntervalMs), time);
        do
        {
            try
            {
                await ScanAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                DeliveryLog.ReplayScanFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Running jobs save their progress and let their leases go, so another instance resumes them at once.
        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's shutdown deadline passed first: the leases of jobs still saving run out by themselves.
        }
    }

    private async Task ScanAsync(CancellationToken stoppingToken)
    {
        foreach (var job in await store.ListAsync(stoppingToken))
        {
            if (job.IsFinished || _running.ContainsKey(job.Id) || _running.Count >= _options.MaxRunningJobs)
            {
                continue;
            }
            var asked = time.GetTimestamp();
            var epoch = await store.LeaseAsync(job.Id, _holder, 0, Lease, stoppingToken);
            if (epoch > 0)
            {
                var hold = new ReplayHold(epoch, asked, time, Lease, RenewInterval, stoppingToken);
                _running[job.Id] = Task.Run(() => RunAsync(job.Id, hold), CancellationToken.None);
            }
        }
    }

    private TimeSpan Lease => TimeSpan.FromMilliseconds(_options.LeaseMs);

    /// <summary>How often a running job renews its lease and writes its progress.</summary>
    private TimeSpan RenewInterval => TimeSpan.FromMilliseconds(Math.Min(_options.ProgressIntervalMs, _options.LeaseMs / 3));

    private async Task RunAsync(string id, ReplayHold hold)
    {
        using var holding = hold;
        var stop = hold.Stop;
        var stoppingToken = stop.Token;
        var cancelRequested = false;
        ReplayJob? job = null;
        using var activity = DeliveryTelemetry.Source.StartActivity("replay", ActivityKind.Internal);
        try
        {
            job = await store.GetAsync(id, stoppingToken);
            if (job is null || job.IsFinished)
            {
                return;
            }
            activity?.SetTag("messaging.destination.name", job.Topic);
            activity?.SetTag("broker.replay.id", job.Id);
            activity?.SetTag("broker.replay.target", job.Target.Kind);
            if (await store.IsCancelRequestedAsync(id, stoppingToken))
            {
                await FinishAsync(job, hold, ReplayState.Cancelled, null);
                return;
            }
            if (RefusedTarget(job) is { } refusal)
            {
                OutboundLog.ReplayNotCalled(logger, job.Id, refusal);
                if (job.Target.Url is { } url && OutboundPolicy.Redact(url) != url)
                {
                    job = job.WithTarget(job.Target with { Url = OutboundPolicy.Redact(url) }); // the credentials are not kept either
                }
                await FinishAsync(job, hold, ReplayState.Failed, $"Not called: {refusal}");
                return;
            }
            if (RightsRefusal(job) is { } refused)
            {
                if (refused.Outcome == AccessOutcome.Unavailable)
                {
                    // Neither yes nor no (the ACLs are not loaded): the job stays as it is for a later scan.
                    DeliveryLog.ReplayWaiting(logger, job.Id, refused.Message);
                    return;
                }
                throw new InvalidOperationException(refused.Message);
            }
            var resumed = job.State == ReplayState.Running;
            job.State = ReplayState.Running;
            job.StartedAt ??= time.GetUtcNow();
            await SaveProgressAsync(job, hold, stoppingToken);
            DeliveryLog.ReplayStarted(logger, job.Id, job.Topic, job.Target.Kind, resumed, job.RecordsDone, job.TotalRecords);
            metrics.JobStarted();
            var watching = WatchAsync(job, hold, () => cancelRequested = true);
            Exception? failure = null;
            var stopped = false;
            try
            {
                await ReplayAsync(job, hold, stop.Token);
            }
            catch (Exception ex)
            {
                // Whether the job had been stopped on purpose is read now: stopping the watcher below cancels the same token.
                (failure, stopped) = (ex, stop.IsCancellationRequested);
            }
            finally
            {
                // However the run ended, its watcher ends with it: left running, it took the lease released below again and
                // wrote progress through a gate already disposed (or added a new one to _saving, never removed).
                await stop.CancelAsync();
                await EndWatchAsync(watching);
                metrics.JobEnded();
            }
            if (hold.Lost)
            {
                // Another instance runs the job now (said when this one found out): nothing more of it is written here.
            }
            else if (failure is null)
            {
                await FinishAsync(job, hold, cancelRequested ? ReplayState.Cancelled : ReplayState.Completed, null);
            }
            else if (stopped)
            {
                await StoppedAsync(job, hold, cancelRequested);
            }
            else
            {
                await FailAsync(job, hold, failure, activity);
            }
        }
        catch (Exception) when (hold.Lost)
        {
            // Found out while starting: another instance runs the job now.
        }
        catch (Exception) when (stop.IsCancellationRequested && job is not null)
        {
            await StoppedAsync(job, hold, cancelRequested);
        }
        catch (Exception ex) when (job is not null)
        {
            await FailAsync(job, hold, ex, activity);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Stopping before the job was even read: nothing of it changed, and its lease goes below.
        }
        finally
        {
            try
            {
                await store.ReleaseAsync(id, _holder, hold.Epoch, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                DeliveryLog.ReplayScanFailed(logger, ex.Message); // the lease runs out by itself
            }
            _running.TryRemove(id, out _);
            if (_saving.TryRemove(id, out var gate))
            {
                gate.Dispose();
            }
        }
    }

    /// <summary>Stopped on purpose: whatever the call under way threw (cancelled, or the gRPC call torn down) only says so.</summary>
    private async Task StoppedAsync(ReplayJob job, ReplayHold hold, bool cancelRequested)
    {
        if (hold.Lost)
        {
            return;
        }
        if (cancelRequested)
        {
            await FinishAsync(job, hold, ReplayState.Cancelled, null);
        }
        else if (await SaveQuietlyAsync(job, hold))
        {
            // The service is stopping: keep the progress; another instance (or this one, restarted) resumes.
            DeliveryLog.ReplayPaused(logger, job.Id, job.RecordsDone, job.TotalRecords);
        }
    }

    private async Task FailAsync(ReplayJob job, ReplayHold hold, Exception failure, Activity? activity)
    {
        if (hold.Lost)
        {
            return; // what failed was this instance's run, not the job: another instance runs it now
        }
        DeliveryLog.ReplayFailed(logger, job.Id, failure.Message);
        activity?.SetStatus(ActivityStatusCode.Error, failure.Message);
        await FinishAsync(job, hold, ReplayState.Failed, failure.Message);
    }

    /// <summary>Waits for a job's watcher to end; what ended it early is logged, the job's outcome is the run's.</summary>
    private async Task EndWatchAsync(Task watching)
    {
        try
        {
            await watching;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            DeliveryLog.ReplayScanFailed(logger, ex.Message);
        }
    }

    /// <summary>Why the job's URL target must not be called now, or null (and null for every other target).</summary>
    private string? RefusedTarget(ReplayJob job) => job.Target.Url switch
    {
        null => null,
        { } url when Uri.TryCreate(url, UriKind.Absolute, out var uri) => outbound.Check(uri),
        _ => "the target is not an absolute URL.",
    };

    /// <summary>
    /// Until the job ends: renews the lease, writes progress, watches for a cancel request; stops the job when it must.
    /// A round that fails (Redis slow or unreachable) is logged and the next one tries again: meanwhile the lease is
    /// no longer surely valid after a while, and deliveries wait (<see cref="ReplayHold"/>) until a renewal answers,
    /// keeping the lease, or says it is lost.
    /// </summary>
    private async Task WatchAsync(ReplayJob job, ReplayHold hold, Action cancelled)
    {
        var stop = hold.Stop;
        var lastRecords = job.RecordsDone;
        var lastAt = Stopwatch.GetTimestamp();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(RenewInterval, time, stop.Token);
                try
                {
                    var asked = time.GetTimestamp();
                    if (await store.LeaseAsync(job.Id, _holder, hold.Epoch, Lease, CancellationToken.None) != hold.Epoch)
                    {
                        if (hold.Lose())
                        {
                            DeliveryLog.ReplayLeaseLost(logger, job.Id, hold.Epoch);
                            metrics.LeaseLost("renewal");
                        }
                        return;
                    }
                    hold.Renewed(asked);
                    var records = Progress(job);
                    var elapsed = Stopwatch.GetElapsedTime(lastAt).TotalSeconds;
                    job.RecordsPerSecond = elapsed > 0 ? (records - lastRecords) / elapsed : 0;
                    (lastRecords, lastAt) = (records, Stopwatch.GetTimestamp());
                    await SaveProgressAsync(job, hold, CancellationToken.None);
                    if (await store.IsCancelRequestedAsync(job.Id, CancellationToken.None))
                    {
                        cancelled();
                        await stop.CancelAsync();
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && !stop.IsCancellationRequested)
                {
                    DeliveryLog.ReplayWatchFailed(logger, job.Id, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The first right the job's creator lacks now, or null: the job acts for whoever asked for it, and a right taken
    /// away since it was asked for stops it when it starts or resumes.
    /// </summary>
    private AccessDecision? RightsRefusal(ReplayJob job)
    {
        if (job.Principal is not { } principal)
        {
            return null;
        }
        var user = Principals.Create(principal, "replay");
        foreach (var (type, name, operation) in ReplayJob.Rights(job.Topic, job.Target))
        {
            if (access.Decide(user, type, name, operation) is { Allowed: false } refused)
            {
                return refused;
            }
        }
        return null;
    }

    private async Task ReplayAsync(ReplayJob job, ReplayHold hold, CancellationToken cancellationToken)
    {
        IReplayTarget target = job.Target.Kind switch
        {
            "group" => new GroupRewind(log),
            "topic" => new TopicRepublish(log),
            "http" => new HttpPost(http.CreateClient(HttpClientName), hold, logger),
            _ => new Verify(),
        };
        await hold.WhileValidAsync(cancellationToken); // a rewind is written here
        if (await target.PrepareAsync(job, cancellationToken))
        {
            return;
        }
        using var limiter = job.RateLimit is { } rate ? new RecordRateLimiter(rate) : null;
        using var gate = new SemaphoreSlim(_options.PartitionConcurrency);
        var bytes = new long[] { job.BytesDone };
        await Task.WhenAll(job.Partitions.Where(p => !p.Done).Select(async partition =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                await ReplayPartitionAsync(job, hold, partition, target, limiter, bytes, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }));
        await SaveProgressAsync(job, hold, CancellationToken.None);
    }

    /// <summary>
    /// Writes the job's progress under the run's epoch; one write at a time per job, each from a fresh look, so progress
    /// never goes back. A write refused (another instance took the job: this one was paused or cut off past its lease)
    /// writes nothing, marks the lease lost and stops the run, said once; the caller sees it cancelled.
    /// </summary>
    private async Task SaveProgressAsync(ReplayJob job, ReplayHold hold, CancellationToken cancellationToken)
    {
        var gate = _saving.GetOrAdd(job.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (hold.Lost)
            {
                throw hold.LostError();
            }
            Progress(job);
            var saved = await store.SaveAsync(job, hold.Epoch, cancellationToken);
            if (saved != ReplaySave.Saved)
            {
                // Each refused write is said (a few at most: one per partition under way, the watcher's, the end's).
                DeliveryLog.ReplayFenced(logger, job.Id, hold.Epoch, saved == ReplaySave.Fenced
                    ? "another instance took the job since"
                    : "the job has ended meanwhile");
                if (hold.Lose())
                {
                    metrics.LeaseLost("fenced");
                }
                throw hold.LostError();
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task ReplayPartitionAsync(ReplayJob job, ReplayHold hold, ReplayPartition partition, IReplayTarget target, RecordRateLimiter? limiter, long[] bytes,
        CancellationToken cancellationToken)
    {
        // Reads run ahead of the writes: one read waits in the channel while the next is under way.
        var reads = Channel.CreateBounded<ReadResult>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        var reading = ReadAheadAsync(job, partition, reads.Writer, cancellationToken);
        await foreach (var read in ReadAllAsync(reads.Reader, cancellationToken))
        {
            foreach (var raw in read.Batches)
            {
                var batch = RecordBatch.ParseChecked(raw.Memory); // Storage checked the CRC when it read it
                if (batch.NextOffset <= partition.Next)
                {
                    continue;
                }
                if (batch.BaseOffset >= partition.To)
                {
                    break;
                }
                if (batch.NextOffset > partition.To)
                {
                    batch = RecordBatch.Parse(batch.TrimAfter(partition.To));
                }
                if (limiter is not null)
                {
                    await limiter.AcquireAsync(batch.RecordCount, cancellationToken);
                }
                await hold.WhileValidAsync(cancellationToken);
                await target.WriteAsync(job, partition, batch, cancellationToken);
                partition.Next = batch.NextOffset;
                Interlocked.Add(ref bytes[0], batch.Bytes.Length);
                job.BytesDone = Interlocked.Read(ref bytes[0]);
                metrics.Replayed(job.Target.Kind, batch.RecordCount, batch.Bytes.Length);
                if (target.CheckpointEachBatch)
                {
                    await SaveProgressAsync(job, hold, CancellationToken.None);
                }
            }
            if (partition.Done)
            {
                break;
            }
        }
        await reading;
        cancellationToken.ThrowIfCancellationRequested();
        if (!partition.Done)
        {
            throw new InvalidOperationException($"Reading {job.Topic}/{partition.Partition} stopped at offset {partition.Next}, before the replay's end {partition.To}.");
        }
    }

    /// <summary>The reads as they come; a failed read surfaces as its own error, not as a closed channel.</summary>
    private static async IAsyncEnumerable<ReadResult> ReadAllAsync(ChannelReader<ReadResult> reads,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                if (!await reads.WaitToReadAsync(cancellationToken))
                {
                    yield break;
                }
            }
            catch (ChannelClosedException ex) when (ex.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            }
            while (reads.TryRead(out var read))
            {
                yield return read;
            }
        }
    }

    private async Task ReadAheadAsync(ReplayJob job, ReplayPartition partition, ChannelWriter<ReadResult> reads, CancellationToken cancellationToken)
    {
        try
        {
            var offset = partition.Next;
            while (offset < partition.To)
            {
                ReadResult read;
                try
                {
                    read = await log.ReadAsync(job.Topic, partition.Partition, offset, _options.ReadBytes, cancellationToken);
                }
                catch (OffsetOutOfRangeException ex)
                {
                    throw new InvalidOperationException(
                        $"Offsets {offset} to {ex.LogStartOffset - 1} of {job.Topic}/{partition.Partition} were removed by retention before the replay reached them.", ex);
                }
                if (read.Batches.Count == 0)
                {
                    throw new InvalidOperationException($"{job.Topic}/{partition.Partition} ends at {read.EndOffset}, before the replay's end {partition.To}.");
                }
                await reads.WriteAsync(read, cancellationToken);
                offset = read.NextOffset;
            }
            reads.Complete();
        }
        catch (OperationCanceledException)
        {
            reads.Complete(); // the writer side sees the same token
        }
        catch (Exception ex)
        {
            reads.Complete(ex);
        }
    }

    /// <summary>Records done (everything below each partition's Next); written into the job.</summary>
    private static long Progress(ReplayJob job)
    {
        job.RecordsDone = job.Partitions.Sum(p => Math.Min(p.Next, p.To) - p.From);
        return job.RecordsDone;
    }

    private async Task FinishAsync(ReplayJob job, ReplayHold hold, ReplayState state, string? error)
    {
        job.State = state;
        job.Error = error;
        job.FinishedAt = time.GetUtcNow();
        job.RecordsPerSecond = 0;
        if (await SaveQuietlyAsync(job, hold))
        {
            DeliveryLog.ReplayFinished(logger, job.Id, state.ToString(), job.RecordsDone, job.TotalRecords);
        }
    }

    /// <summary>Writes the job; false when the write was refused (the lease is lost) or failed.</summary>
    private async Task<bool> SaveQuietlyAsync(ReplayJob job, ReplayHold hold)
    {
        try
        {
            await SaveProgressAsync(job, hold, CancellationToken.None);
            return true;
        }
        catch (Exception) when (hold.Lost)
        {
            return false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            DeliveryLog.ReplayScanFailed(logger, ex.Message);
            return false;
        }
    }
}

/// <summary>A job's rate limit in records per second: a token bucket holding one second's worth, topped up every 100 ms.</summary>
internal sealed class RecordRateLimiter(int recordsPerSecond) : IDisposable
{
    private readonly TokenBucketRateLimiter _bucket = new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = recordsPerSecond,
        TokensPerPeriod = Math.Max(1, recordsPerSecond / 10),
        ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        AutoReplenishment = true,
    });

    /// <summary>Waits for <paramref name="records"/> permits, in pieces the bucket can hold.</summary>
    public async Task AcquireAsync(int records, CancellationToken cancellationToken)
    {
        while (records > 0)
        {
            var take = Math.Min(records, recordsPerSecond);
            using var lease = await _bucket.AcquireAsync(take, cancellationToken);
            records -= take;
        }
    }

    public void Dispose() => _bucket.Dispose();
}
