using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Broker.Ctl.Client;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class ProduceSettings : BrokerSettings
{
    [CommandArgument(0, "<topic>")]
    public string Topic { get; init; } = "";

    [CommandArgument(1, "[values]"), Description("Record values; none: one record per line of --file, or of stdin")]
    public string[] Values { get; init; } = [];

    [CommandOption("-k|--key <KEY>"), Description("The key of every record (picks the partition)")]
    public string? Key { get; init; }

    [CommandOption("-H|--header <NAME=VALUE>"), Description("A header of every record; repeatable")]
    public string[] Headers { get; init; } = [];

    [CommandOption("-f|--file <PATH>"), Description("One record per line of this file")]
    public string? File { get; init; }

    [CommandOption("--partition <N>")]
    public int? Partition { get; init; }

    [CommandOption("--batch <N>"), Description("Records per request (default 500)")]
    public int Batch { get; init; } = 500;

    public override Spectre.Console.ValidationResult Validate()
    {
        if (Headers.Any(h => !h.Contains('=', StringComparison.Ordinal)))
        {
            return Spectre.Console.ValidationResult.Error("A header is NAME=VALUE.");
        }
        return Batch is < 1 or > 100_000 ? Spectre.Console.ValidationResult.Error("--batch is 1 to 100000.") : base.Validate();
    }
}

/// <summary>
/// produce: records to Ingest's JSON API. A value that is JSON goes as JSON; anything else as its UTF-8 bytes. Lines
/// come from the arguments, --file or stdin, in requests of --batch; prints where each record went.
/// </summary>
public sealed class ProduceCommand : AsyncCommand<ProduceSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ProduceSettings settings, CancellationToken cancellationToken)
    {
        using var ingest = settings.Connection.Http("Ingest", settings.Ingest);
        var headers = settings.Headers.Length == 0 ? null : settings.Headers.Select(h => h.Split('=', 2)).ToDictionary(h => h[0], h => (string?)h[1]);
        var offsets = new List<(int Partition, long Offset)>();
        var batch = new List<object>(settings.Batch);
        async Task SendAsync()
        {
            if (batch.Count == 0)
            {
                return;
            }
            var answer = await ingest.PostAsync($"v1/topics/{Uri.EscapeDataString(settings.Topic)}/records", new { records = batch }, cancellationToken);
            offsets.AddRange(answer.GetProperty("offsets").EnumerateArray().Select(o => (o.GetProperty("partition").GetInt32(), o.GetProperty("offset").GetInt64())));
            batch.Clear();
        }
        await foreach (var line in Lines(settings, cancellationToken))
        {
            batch.Add(Record(line, settings.Key, headers, settings.Partition));
            if (batch.Count >= settings.Batch)
            {
                await SendAsync();
            }
        }
        await SendAsync();
        if (offsets.Count == 0)
        {
            throw new CtlException("Nothing to produce: give values, --file, or lines on stdin.", 2);
        }
        if (settings.Json)
        {
            Output.JsonLine(new { topic = settings.Topic, records = offsets.Count, offsets = offsets.Select(o => new { partition = o.Partition, offset = o.Offset }) });
        }
        else if (offsets.Count <= 20)
        {
            Output.Table(["partition", "offset"], offsets.Select(o => (IReadOnlyList<string>)[o.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture), o.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        }
        else
        {
            Output.Say($"{Output.Count(offsets.Count, "record")} produced to {settings.Topic} ({Output.Count(offsets.Select(o => o.Partition).Distinct().Count(), "partition")}).");
        }
        return 0;
    }

    private static object Record(string line, string? key, Dictionary<string, string?>? headers, int? partition)
    {
        if (IsJson(line))
        {
            using var document = JsonDocument.Parse(line);
            return new { key, value = document.RootElement.Clone(), headers, partition };
        }
        return new { key, valueBase64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(line)), headers, partition };
    }

    private static bool IsJson(string line)
    {
        try
        {
            using var _ = JsonDocument.Parse(line);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async IAsyncEnumerable<string> Lines(ProduceSettings settings, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (settings.Values.Length > 0)
        {
            foreach (var value in settings.Values)
            {
                yield return value;
            }
            yield break;
        }
        TextReader reader;
        if (settings.File is { } path)
        {
            if (!System.IO.File.Exists(path))
            {
                throw new CtlException($"No file {path}.", 2);
            }
            reader = new StreamReader(path);
        }
        else if (Console.IsInputRedirected)
        {
            reader = Console.In;
        }
        else
        {
            throw new CtlException("Nothing to produce: give values, --file, or pipe lines on stdin.", 2);
        }
        using (reader)
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.Length > 0)
                {
                    yield return line;
                }
            }
        }
    }
}
