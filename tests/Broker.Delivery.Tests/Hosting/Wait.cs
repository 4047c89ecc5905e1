using System.Diagnostics;

namespace Broker.Delivery.Tests.Hosting;

public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> (and the last state) after <paramref name="timeout"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <summary>As above, for a condition that has to ask a service (no blocking on it).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for: {what()}");
            }
            await Task.Delay(20);
        }
    }
}
