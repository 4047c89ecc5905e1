using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Broker.Ctl;

/// <summary>What commands print: Spectre tables for people, indented JSON (or one line per record) for scripts.</summary>
public static class Output
{
    public static void Json(JsonElement element) => Console.Out.WriteLine(JsonSerializer.Serialize(element, Client.JsonDefaults.Indented));

    public static void JsonLine(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Client.JsonDefaults.Options));

    public static void Table(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        }
        foreach (var row in rows)
        {
            table.AddRow([.. row.Select(cell => new Text(cell))]);
        }
        AnsiConsole.Write(table);
    }

    public static void Say(string text) => AnsiConsole.WriteLine(text);

    public static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => value.GetRawText(),
        } : "";

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A count and what it counts, singular for one only: "1 topic", "0 topics", "1,000 records".</summary>
    public static string Count(long count, string one, string? many = null) => $"{Number(count)} {(count == 1 ? one : many ?? one + "s")}";
}
