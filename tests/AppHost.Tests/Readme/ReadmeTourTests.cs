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
                var (exit, output) = await BashAsync(folder, folder, bin, command);
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

    /// <summary>
    /// "Run one service at a time", pasted in order from the repository's root: <c>redis-server … &amp;</c> and each
    /// <c>dotnet run</c> become processes of their own (as in another shell, each waited for until it answers /health),
    /// every other command runs in bash and must succeed. Storage's S3 start needs an AWS bucket: it is left out, and
    /// the block's other commands run against the Storage already up. The clone is left as it was.
    /// </summary>
    [Fact]
    public async Task Every_command_of_run_one_service_at_a_time_works_pasted_in_order()
    {
        var root = Aspire.Hosting.BrokerBuilderExtensions.FindSource(AppContext.BaseDirectory)!;
        var readme = await File.ReadAllTextAsync(Path.Combine(root, "README.md"));
        var section = readme[readme.IndexOf("## Run one service at a time", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n### ", StringComparison.Ordinal)];
        var blocks = BashBlock().Matches(section).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 6, $"the section has {blocks.Count} bash blocks");
        var before = await GitStatusAsync(root);
        var folder = Directory.CreateTempSubdirectory("readme-services-").FullName;
        var running = new List<Process>();
        try
        {
            var failures = new List<string>();
            foreach (var command in blocks.SelectMany(Commands))
            {
                if (command.StartsWith('#') || command.Contains("Storage__Segments__S3__Bucket", StringComparison.Ordinal))
                {
                    continue;
                }
                if (command.Contains("dotnet run --project", StringComparison.Ordinal) || command.TrimEnd().Split('#')[0].TrimEnd().EndsWith('&'))
                {
                    var background = command.Split('#')[0].Trim().TrimEnd('&').Trim();
                    running.Add(StartInBackground(root, background));
                    if (Health().FirstOrDefault(h => command.Contains(h.Project, StringComparison.Ordinal)) is { Project: not null } service)
                    {
                        await WaitHealthyAsync(service.Url, running[^1], command);
                    }
                    else
                    {
                        await Task.Delay(1000); // redis-server
                    }
                    continue;
                }
                var (exit, output) = await BashAsync(root, folder, null, command);
                // The tour cancels its replay "if it is still running": one that already finished answers 409, as the README says.
                var endedReplay = command.Contains("-X DELETE localhost:5300/v1/replays/", StringComparison.Ordinal)
                    && output.Contains("\"status\":409", StringComparison.Ordinal) && output.Contains("already ended", StringComparison.Ordinal);
                if (exit != 0 || (!endedReplay && (output.Contains("\"status\":4", StringComparison.Ordinal) || output.Contains("\"status\":5", StringComparison.Ordinal))))
                {
                    failures.Add($"`{command}` exited {exit}:\n{output}");
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
            foreach (var process in running)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
                process.Dispose();
            }
            File.Delete(Path.Combine(root, "payload.bin"));
            Directory.Delete(folder, recursive: true);
        }
        Assert.Equal(before, await GitStatusAsync(root));
    }

    private static IEnumerable<(string Project, string Url)> Health() =>
    [
        ("Broker.Storage", "http://localhost:5100/health"), ("Broker.Ingest", "http://localhost:5200/health"),
        ("Broker.Delivery", "http://localhost:5300/health"), ("SchemaRegistry", "http://localhost:8081/health"),
    ];

    private static Process StartInBackground(string root, string command)
    {
        var start = new ProcessStartInfo("bash", ["-c", command])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitHealthyAsync(string url, Process process, string command)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(process.HasExited, $"`{command}` exited {(process.HasExited ? process.ExitCode : 0)}");
            try
            {
                using var health = await http.GetAsync(url);
                if (health.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Building or starting.
            }
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(4), $"`{command}` did not answer {url} within 4 minutes");
            await Task.Delay(500);
        }
    }

    private static async Task<string> GitStatusAsync(string root)
    {
        using var git = Process.Start(new ProcessStartInfo("git", ["status", "--porcelain", "--untracked-files=all"])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
        })!;
        var status = await git.StandardOutput.ReadToEndAsync();
        await git.WaitForExitAsync();
        return status;
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
    private static async Task<(int Exit, string Output)> BashAsync(string workingDirectory, string folder, string? bin, string command)
    {
        var state = Path.Combine(folder, ".tour-state");
        var script = $"[ -f '{state}' ] && . '{state}'\n{command}\nstatus=$?\n" +
            $"{{ [ -n \"${{poll+x}}\" ] && printf 'poll=%q\\n' \"$poll\"; [ -n \"${{job+x}}\" ] && printf 'job=%q\\n' \"$job\"; [ -n \"${{id+x}}\" ] && printf 'id=%q\\n' \"$id\"; }} > '{state}'\nexit $status\n";
        var start = new ProcessStartInfo("bash", ["-c", script])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (bin is not null)
        {
            start.Environment["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}";
        }
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
