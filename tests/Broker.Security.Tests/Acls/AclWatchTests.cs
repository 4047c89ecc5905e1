using System.Collections.Concurrent;
using Broker.Contracts.Acls;
using Broker.ServiceDefaults.Security.Acls;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using SnapshotMessage = Broker.Contracts.Acls.AclSnapshot;

namespace Broker.Security.Tests.Acls;

/// <summary>
/// The ACL watch of a service that is not Storage (<see cref="StorageAclWatcher"/>) against a scripted Storage, on a
/// clock that records every delay asked for and lets it pass at once.
/// </summary>
public sealed class AclWatchTests
{
    /// <summary>What happened, in order: "call n" for each watch call, "delay" with its length for each wait.</summary>
    private sealed class Events
    {
        public ConcurrentQueue<(string What, TimeSpan Delay)> Seen { get; } = new();

        public List<TimeSpan> DelaysBetween(int call, int next)
        {
            var all = Seen.ToList();
            var from = all.FindIndex(e => e.What == $"call {call}");
            var to = all.FindIndex(e => e.What == $"call {next}");
            Assert.True(from >= 0 && to > from, $"calls {call} and {next} were made in turn: {string.Join(", ", all.Select(e => e.What))}");
            return [.. all.Skip(from + 1).Take(to - from - 1).Where(e => e.What == "delay").Select(e => e.Delay)];
        }
    }

    private sealed class Hurried(Events events) : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime > TimeSpan.Zero)
            {
                events.Seen.Enqueue(("delay", dueTime));
                dueTime = TimeSpan.FromMilliseconds(1);
            }
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>Storage's AclService: call n answers what <paramref name="script"/> says for n.</summary>
    private sealed class ScriptedStorage(Events events, Func<int, Reader> script) : AclService.AclServiceClient
    {
        private int _calls;

        public override AsyncServerStreamingCall<SnapshotMessage> Watch(
            WatchAclsRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default)
        {
            var call = Interlocked.Increment(ref _calls);
            events.Seen.Enqueue(($"call {call}", TimeSpan.Zero));
            return new AsyncServerStreamingCall<SnapshotMessage>(script(call), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }
    }

    /// <summary>A call's answers: these snapshots, then UNAVAILABLE (or, when <paramref name="thenHold"/>, nothing more until cancelled).</summary>
    private sealed class Reader(long[] versions, bool thenHold = false) : IAsyncStreamReader<SnapshotMessage>
    {
        private int _next = -1;

        public SnapshotMessage Current => new() { Version = versions[_next] };

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (++_next < versions.Length)
            {
                return true;
            }
            if (thenHold)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            throw new RpcException(new Status(StatusCode.Unavailable, "Storage went away."));
        }
    }

    [Fact]
    public async Task A_watch_that_delivered_snapshots_and_broke_reconnects_after_the_first_delay_not_the_longest()
    {
        // Storage unreachable for twelve calls (the backoff grows to its longest), then a watch that delivers a
        // snapshot and breaks (Storage restarting hours later), then one that holds.
        var events = new Events();
        var storage = new ScriptedStorage(events, call => call switch
        {
            <= 12 => new Reader([]),
            13 => new Reader([1]),
            _ => new Reader([2], thenHold: true),
        });
        using var watcher = new StorageAclWatcher(storage, new Hurried(events), NullLogger<StorageAclWatcher>.Instance);
        await watcher.StartAsync(CancellationToken.None);
        try
        {
            await watcher.Loaded.WaitAsync(TimeSpan.FromSeconds(20));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (watcher.Current?.Version != 2)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the watch was made again after it broke");
                await Task.Delay(10);
            }
        }
        finally
        {
            await watcher.StopAsync(CancellationToken.None);
        }

        Assert.True(events.DelaysBetween(12, 13).Sum(d => d.TotalSeconds) >= 1, "twelve failures in a row back off");
        var afterBreak = events.DelaysBetween(13, 14);
        Assert.True(afterBreak.Sum(d => d.TotalSeconds) < 1,
            $"after a watch that delivered snapshots the next one waits the first delay, not the longest: waited {string.Join(", ", afterBreak)}");
    }
}
