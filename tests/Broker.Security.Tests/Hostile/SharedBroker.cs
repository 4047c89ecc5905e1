using Broker.Security.Tests.Hosting;
using Broker.Testing;

namespace Broker.Security.Tests.Hostile;

/// <summary>
/// One <see cref="SecureBroker"/> for every test of a class (its class fixture): started by the first test that asks,
/// with what that class sets up once, and stopped after the last.
/// </summary>
public sealed class SharedBroker : IAsyncLifetime
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private SecureBroker? _broker;

    /// <summary>The process's GC heap (after a full collection) and working set once the broker was started and set up.</summary>
    public (long Heap, long WorkingSet) Baseline { get; private set; }

    public async Task<SecureBroker> StartAsync(RedisFixture redis, string name, Func<SecureBroker, Task>? setUp = null)
    {
        await _starting.WaitAsync();
        try
        {
            if (_broker is null)
            {
                var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix(name));
                if (setUp is not null)
                {
                    await setUp(broker);
                }
                _broker = broker;
                Baseline = Memory();
            }
            return _broker;
        }
        finally
        {
            _starting.Release();
        }
    }

    public static (long Heap, long WorkingSet) Memory()
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return (heap, process.WorkingSet64);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
        _starting.Dispose();
    }
}
