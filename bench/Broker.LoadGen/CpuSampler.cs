using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// CPU seconds spent by redis-server (INFO cpu), Storage, Ingest and Delivery (/proc/PID/stat, when their pids are known), this
/// process, and the whole machine (/proc/stat: busy and stolen), so a round can say which of the processes
/// sharing the machine's cores was busy, and whether something else was.
/// </summary>
public sealed class CpuSampler(IConnectionMultiplexer redis, int? storagePid, int? ingestPid, int? deliveryPid = null)
{
    private static readonly double s_clockTicksPerSecond = 100; // USER_HZ, 100 on every Linux we run on.
    private static readonly TimeSpan s_quietSlice = TimeSpan.FromMilliseconds(250);

    public async Task<CpuSample> SampleAsync()
    {
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var info = await server.InfoAsync("cpu");
        double Read(string name) => info.SelectMany(g => g)
            .Where(kv => kv.Key == name)
            .Select(kv => double.Parse(kv.Value, CultureInfo.InvariantCulture))
            .FirstOrDefault();
        var redisSeconds = Read("used_cpu_user") + Read("used_cpu_sys");
        var (machineBusy, machineSteal) = ReadMachineSeconds();
        return new CpuSample(
            Stopwatch.GetTimestamp(),
            redisSeconds,
            storagePid is { } pid ? ReadProcessSeconds(pid) : null,
            ingestPid is { } ingest ? ReadProcessSeconds(ingest) : null,
            deliveryPid is { } delivery ? ReadProcessSeconds(delivery) : null,
            Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
            machineBusy,
            machineSteal);
    }

    /// <summary>
    /// Waits until redis-server, Storage and Ingest are idle (under <paramref name="threshold"/> cores over a quarter
    /// second), at most <paramref name="max"/>: a burst leaves work behind (tiered JIT re-compiles, background
    /// GC, freeing memory) that would otherwise land on whichever path runs next.
    /// </summary>
    public async Task<TimeSpan> WaitForQuietAsync(TimeSpan max, CancellationToken cancellationToken, double threshold = 0.05)
    {
        var started = Stopwatch.GetTimestamp();
        var previous = await SampleAsync();
        while (Stopwatch.GetElapsedTime(started) < max)
        {
            await Task.Delay(s_quietSlice, cancellationToken);
            var current = await SampleAsync();
            var cores = CpuSample.Between(previous, current);
            previous = current;
            if (cores.Redis < threshold && (cores.Storage ?? 0) < threshold && (cores.Ingest ?? 0) < threshold && (cores.Delivery ?? 0) < threshold)
            {
                break;
            }
        }
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>The machine's busy (user, nice, system, irq, softirq) and stolen seconds from /proc/stat; null where there is none.</summary>
    private static (double? Busy, double? Steal) ReadMachineSeconds()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var fields = (reader.ReadLine() ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long Field(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
            var busy = Field(1) + Field(2) + Field(3) + Field(6) + Field(7);
            return (busy / s_clockTicksPerSecond, Field(8) / s_clockTicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (null, null);
        }
    }

    /// <summary>utime + stime (fields 14 and 15 of /proc/PID/stat); null when the process cannot be read.</summary>
    private static double? ReadProcessSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces; the fields after it start past its ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks / s_clockTicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

public sealed record CpuSample(
    long Timestamp,
    double RedisSeconds,
    double? StorageSeconds,
    double? IngestSeconds,
    double? DeliverySeconds,
    double LoadGenSeconds,
    double? MachineBusySeconds,
    double? MachineStealSeconds)
{
    /// <summary>Cores used by each process between two samples (1.0 = one core busy the whole time).</summary>
    public static CpuReport Between(CpuSample start, CpuSample end)
    {
        var wall = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp).TotalSeconds;
        double? Cores(double? from, double? to) => from is { } f && to is { } t ? Math.Round((t - f) / wall, 2) : null;
        var redis = Math.Round((end.RedisSeconds - start.RedisSeconds) / wall, 2);
        var storage = Cores(start.StorageSeconds, end.StorageSeconds);
        var ingest = Cores(start.IngestSeconds, end.IngestSeconds);
        var delivery = Cores(start.DeliverySeconds, end.DeliverySeconds);
        var loadGen = Math.Round((end.LoadGenSeconds - start.LoadGenSeconds) / wall, 2);
        // Busy cores not accounted for by the measured processes: anything else running on the machine.
        var other = Cores(start.MachineBusySeconds, end.MachineBusySeconds) is { } busy
            ? Math.Max(0, Math.Round(busy - redis - (storage ?? 0) - (ingest ?? 0) - (delivery ?? 0) - loadGen, 2))
            : (double?)null;
        return new CpuReport(redis, storage, ingest, loadGen, other, Cores(start.MachineStealSeconds, end.MachineStealSeconds), delivery);
    }
}
