using Spectre.Console;

namespace Broker.AppHost.Running;

/// <summary>
/// AppHost's one output: every child's lines with a coloured prefix (plain text when redirected), AppHost's own
/// messages, and the status table. One writer at a time, so lines never interleave.
/// </summary>
internal sealed class Terminal
{
    private static readonly Color[] s_colours = [Color.Cyan1, Color.Green1, Color.Yellow1, Color.Magenta1, Color.DodgerBlue1, Color.Orange1, Color.SpringGreen1];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Style> _styles = new(StringComparer.Ordinal);
    private readonly IAnsiConsole _console;
    private int _width = 14;

    public Terminal()
    {
        _console = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            // A log file or a test reads it: wide enough that the table does not wrap.
            _console.Profile.Width = 200;
        }
    }

    public void Register(string name)
    {
        lock (_lock)
        {
            _styles[name] = new Style(s_colours[_styles.Count % s_colours.Length]);
            _width = Math.Max(_width, name.Length + 2);
        }
    }

    private Style StyleOf(string name) => _styles.TryGetValue(name, out var style) ? style : Style.Plain;

    /// <summary>A line a child wrote.</summary>
    public void Line(string name, string text)
    {
        lock (_lock)
        {
            _console.Write(new Text($"[{name}]".PadRight(_width), StyleOf(name)));
            _console.WriteLine(text, Style.Plain);
        }
    }

    /// <summary>AppHost's own message.</summary>
    public void Say(string text, bool problem = false)
    {
        lock (_lock)
        {
            _console.Write(new Text("[apphost]".PadRight(_width), new Style(problem ? Color.Red : Color.White, decoration: Decoration.Bold)));
            _console.WriteLine(text, problem ? new Style(Color.Red) : Style.Plain);
        }
    }

    public void Table(IEnumerable<(string Name, string State, int? Pid, int Restarts, IReadOnlyList<string> Endpoints)> rows)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("resource", "state", "pid", "restarts", "endpoints");
        foreach (var row in rows)
        {
            table.AddRow(
                new Text(row.Name, StyleOf(row.Name)),
                new Text(row.State, row.State == "healthy" ? new Style(Color.Green) : row.State is "crashed" or "unhealthy" ? new Style(Color.Red) : Style.Plain),
                new Text(row.Pid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"),
                new Text(row.Restarts.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(string.Join("\n", row.Endpoints)));
        }
        lock (_lock)
        {
            _console.Write(table);
        }
    }
}
