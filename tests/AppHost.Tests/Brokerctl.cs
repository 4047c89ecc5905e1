using System.Diagnostics;

namespace AppHost.Tests;

/// <summary>brokerctl run as a user runs it, against the broker an AppHost started.</summary>
public static class Brokerctl
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(BrokerApp host, string? input, params string[] arguments)
    {
        var start = new ProcessStartInfo(Build.Dotnet(), [Build.Path("Brokerctl", "brokerctl.dll"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in host.BrokerctlEnvironment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await output, await error);
    }

    /// <summary>Runs it and fails the test with its output unless it exits 0.</summary>
    public static async Task<string> SucceedAsync(BrokerApp host, string? input, params string[] arguments)
    {
        var result = await RunAsync(host, input, arguments);
        Assert.True(result.ExitCode == 0, $"brokerctl {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Output}{result.Error}");
        return result.Output;
    }
}
