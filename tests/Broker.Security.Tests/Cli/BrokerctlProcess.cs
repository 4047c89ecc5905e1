using System.Diagnostics;

namespace Broker.Security.Tests.Cli;

/// <summary>
/// brokerctl run as a user runs it (its build output, under dotnet), with the environment given and none of the
/// caller's BROKER_* variables.
/// </summary>
public static class BrokerctlProcess
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public string All => Output + Error;

        public override string ToString() => $"exit {ExitCode}; stdout: {Output}; stderr: {Error}";
    }

    public static Task<Result> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        RunAsync(new ProcessStartInfo(DotnetPath(), [DllPath(), .. arguments]), environment, string.Join(' ', Redacted(arguments)));

    /// <summary>
    /// A command line as a user pastes it into bash: <paramref name="line"/> starts with "brokerctl ", which runs this
    /// build of it; bash splits and unquotes the rest.
    /// </summary>
    public static Task<Result> RunInBashAsync(IReadOnlyDictionary<string, string> environment, string line)
    {
        Assert.StartsWith("brokerctl ", line, StringComparison.Ordinal);
        var start = new ProcessStartInfo("bash", ["-c", $"\"$BROKERCTL_DOTNET\" \"$BROKERCTL_DLL\" {line["brokerctl ".Length..]}"]);
        start.Environment["BROKERCTL_DOTNET"] = DotnetPath();
        start.Environment["BROKERCTL_DLL"] = DllPath();
        return RunAsync(start, environment, line["brokerctl ".Length..]);
    }

    private static async Task<Result> RunAsync(ProcessStartInfo start, IReadOnlyDictionary<string, string> environment, string shown)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("BROKER_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"brokerctl {shown} ran over 90 s.");
        }
        return new Result(process.ExitCode, await output, await error);
    }

    /// <summary>The arguments as a failure message may show them: --token's value hidden.</summary>
    public static IEnumerable<string> Redacted(IReadOnlyList<string> arguments) =>
        arguments.Select((a, i) => i > 0 && arguments[i - 1] == "--token" ? "***" : a);

    /// <summary>brokerctl.dll of this configuration (the test project references Brokerctl, so it is built first).</summary>
    public static string DllPath()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var path = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Brokerctl", configuration, "brokerctl.dll"));
        return File.Exists(path) ? path : throw new FileNotFoundException($"Brokerctl is not built at {path}.");
    }

    private static string DotnetPath() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
}
