using System.Diagnostics;
using System.Text.RegularExpressions;

namespace AppHost.Tests.Readme;

/// <summary>
/// The README's five-minute tour, pasted in order as a new user would: its brokerctl block, then its curl block, each
/// command in bash against the AppHost on its usual ports, brokerctl on PATH as installed. Every command must succeed,
/// but the one the README says exits 1.
/// </summary>
public sealed partial class ReadmeTourTests
{
    [Fact]
    public async Task Every_command_of_the_five_minute_tour_works_pasted_in_order()
    {
        var (brokerctlBlock, curlBlock) = TourBlocks();
        await using var host = await BrokerApp.StartAsync(fixedPorts: true);
        var folder = Directory.CreateTempSubdirectory("readme-tour-").FullName;
        try
        {
            // brokerctl as `dotnet tool install -g brokerctl` puts it on PATH.
            var bin = Directory.CreateDirectory(Path.Combine(folder, "bin")).FullName;
            var launcher = Path.Combine(bin, "brokerctl");
            await File.WriteAllTextAsync(launcher, $"#!/bin/sh\nexec '{Build.Dotnet()}' '{Build.Path("Brokerctl", "brokerctl.dll")}' \"$@\"\n");
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var failures = new List<string>();
            foreach (var command in Commands(brokerctlBlock).Concat(Commands(curlBlock)))
            {
                var expected = command.Contains("# exit 1", StringComparison.Ordinal) ? 1 : 0;
                var (exit, output) = await BashAsync(folder, bin, command);
                if (exit != expected)
                {
                    failures.Add($"`{command}` exited {exit} (expected {expected}):\n{output}");
                }
                else if (command.Contains("/acks", StringComparison.Ordinal) && !output.Contains("\"acked\":1", StringComparison.Ordinal))
                {
                    failures.Add($"`{command}` acked nothing:\n{output}");
                }
            }
            Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The tour's first two bash blocks: brokerctl's, then curl's.</summary>
    private static (string Brokerctl, string Curl) TourBlocks()
    {
        var readme = File.ReadAllText(Path.Combine(Aspire.Hosting.BrokerBuilderExtensions.FindSource(AppContext.BaseDirectory)!, "README.md"));
        var tour = readme[readme.IndexOf("## A five-minute tour", StringComparison.Ordinal)..];
        tour = tour[..tour.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var blocks = BashBlock().Matches(tour).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 2, "the tour has a brokerctl block and a curl block");
        Assert.Contains("brokerctl topics create", blocks[0], StringComparison.Ordinal);
        Assert.Contains("curl", blocks[1], StringComparison.Ordinal);
        return (blocks[0], blocks[1]);
    }

    /// <summary>A block's commands: lines ending in a backslash joined to the next.</summary>
    private static IEnumerable<string> Commands(string block)
    {
        var pending = "";
        foreach (var line in block.Split('\n'))
        {
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            var command = (pending + line).Trim();
            pending = "";
            if (command.Length > 0)
            {
                yield return command;
            }
        }
    }

    // One bash for the whole tour would stop at nothing; one per command keeps each exit code. Variables (poll, id)
    // carry over through a file the commands source, as they would in one terminal.
    private static async Task<(int Exit, string Output)> BashAsync(string folder, string bin, string command)
    {
        var state = Path.Combine(folder, ".tour-state");
        var script = $"[ -f '{state}' ] && . '{state}'\n{command}\nstatus=$?\n" +
            $"{{ [ -n \"${{poll+x}}\" ] && printf 'poll=%q\\n' \"$poll\"; [ -n \"${{id+x}}\" ] && printf 'id=%q\\n' \"$id\"; }} > '{state}'\nexit $status\n";
        var start = new ProcessStartInfo("bash", ["-c", script])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    [GeneratedRegex("```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();
}
