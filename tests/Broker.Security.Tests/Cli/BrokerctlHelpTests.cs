using System.Text;

namespace Broker.Security.Tests.Cli;

/// <summary>brokerctl's help, run as a process: every example is a line to paste into bash, quoted as bash needs.</summary>
public sealed class BrokerctlHelpTests
{
    private static readonly Dictionary<string, string> s_noEnvironment = [];

    [Fact]
    public async Task Every_example_reaches_brokerctl_through_bash_as_it_reads()
    {
        var examples = new HashSet<string>(StringComparer.Ordinal);
        var root = await HelpAsync();
        examples.UnionWith(Section(root, "EXAMPLES:"));
        // A branch's help shows its commands' examples too.
        foreach (var command in Section(root, "COMMANDS:").Select(l => l.Split(' ')[0]))
        {
            examples.UnionWith(Section(await HelpAsync(command), "EXAMPLES:"));
        }
        Assert.Contains("""brokerctl produce orders '{"id":1}' --key customer-7""", examples);

        foreach (var example in examples)
        {
            // What bash hands the program, one argument a line, against the words as the example reads them.
            var words = await BashWordsAsync(example);
            Assert.True(words.SequenceEqual(ReadWords(example)), $"bash reads '{example}' as: {string.Join(" | ", words)}");
        }
    }

    private static async Task<string> HelpAsync(params string[] command)
    {
        var result = await BrokerctlProcess.RunAsync(s_noEnvironment, [.. command, "--help"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Output;
    }

    /// <summary>The lines of a help section (from its heading to the next blank line), trimmed.</summary>
    private static List<string> Section(string help, string heading) =>
        [.. help.Split('\n').Select(l => l.Trim()).SkipWhile(l => l != heading).Skip(1).TakeWhile(l => l.Length > 0)];

    private static async Task<string[]> BashWordsAsync(string line)
    {
        var start = new System.Diagnostics.ProcessStartInfo("bash", ["-c", $"printf '%s\\n' {line}"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var bash = System.Diagnostics.Process.Start(start)!;
        var output = await bash.StandardOutput.ReadToEndAsync();
        await bash.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The words a reader sees: split at spaces, '…' one word without its quotes.</summary>
    private static List<string> ReadWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '\'')
            {
                quoted = !quoted;
            }
            else if (c == ' ' && !quoted)
            {
                if (word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                }
            }
            else
            {
                word.Append(c);
            }
        }
        if (word.Length > 0)
        {
            words.Add(word.ToString());
        }
        return words;
    }
}
