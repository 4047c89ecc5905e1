using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class ConsumeSettings : BrokerSettings
{
    [CommandArgument(0, "<topic>")]
    public string Topic { get; init; } = "";

    [CommandOption("-g|--group <GROUP>"), Description("The consumer group (default brokerctl)")]
    public string Group { get; init; } = "brokerctl";

    [CommandOption("-F|--follow"), Description("Keep waiting for new records until Ctrl+C")]
    public bool Follow { get; init; }

    [CommandOption("-n|--max <N>"), Description("Stop after this many records")]
    public int? Max { get; init; }

    [CommandOption("--no-ack"), Description("Leave the records unacknowledged (they are delivered again)")]
    public bool NoAck { get; init; }

    [CommandOption("--from <WHERE>"), Description("Where a new group starts: earliest (default) or latest")]
    public string From { get; init; } = "earliest";

    [CommandOption("--wait-ms <MS>"), Description("How long one poll waits for records (default 2000)")]
    public int WaitMs { get; init; } = 2000;
}

/// <summary>
/// consume: HTTP polls of Delivery as a member of --group, printing each record, and acking what it printed (unless
/// --no-ack). Without --follow it stops at the first poll that finds nothing new.
/// </summary>
public sealed class ConsumeCommand : AsyncCommand<ConsumeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ConsumeSettings settings, CancellationToken cancellationToken)
    {
        using var delivery = settings.Connection.Http("Delivery", settings.Delivery);
        var path = $"v1/groups/{Uri.EscapeDataString(settings.Group)}/topics/{Uri.EscapeDataString(settings.Topic)}";
        var consumerId = $"brokerctl-{Environment.ProcessId}";
        var seen = 0;
        var rows = new List<IReadOnlyList<string>>();
        try
        {
            while (settings.Max is not { } max || seen < max)
            {
                var wanted = Math.Min(1000, settings.Max is { } m ? m - seen : 1000);
                var poll = await delivery.PostAsync($"{path}/poll", new { maxRecords = wanted, waitMs = settings.WaitMs, consumerId, start = settings.From }, cancellationToken);
                var records = poll.GetProperty("records").EnumerateArray().ToList();
                if (records.Count == 0)
                {
                    if (settings.Follow)
                    {
                        continue;
                    }
                    break;
                }
                foreach (var record in records)
                {
                    seen++;
                    if (settings.Json)
                    {
                        Output.JsonLine(new
                        {
                            partition = record.GetProperty("partition").GetInt32(),
                            offset = record.GetProperty("offset").GetInt64(),
                            key = Output.Text(record, "key"),
                            value = record.TryGetProperty("value", out var json) ? json : (object)ValueText(record),
                            headers = record.TryGetProperty("headers", out var h) ? h : default,
                            timestamp = record.GetProperty("timestamp").GetInt64(),
                            attempt = record.GetProperty("attempt").GetInt32(),
                        });
                    }
                    else if (settings.Follow)
                    {
                        Output.Say($"{Output.Text(record, "partition")}@{Output.Text(record, "offset")} {Output.Text(record, "key")} {ValueText(record)}");
                    }
                    else
                    {
                        rows.Add([Output.Text(record, "partition"), Output.Text(record, "offset"), Output.Text(record, "key"), ValueText(record), Output.Text(record, "attempt")]);
                    }
                }
                if (!settings.NoAck)
                {
                    await delivery.PostAsync($"{path}/acks", new { ack = records.Select(r => r.GetProperty("deliveryId").GetString()) }, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C while following: what was printed was acked.
        }
        if (!settings.Json && !settings.Follow)
        {
            if (rows.Count > 0)
            {
                Output.Table(["partition", "offset", "key", "value", "attempt"], rows);
            }
            Output.Say($"{Output.Count(seen, "record")} from {settings.Topic} as group {settings.Group}{(settings.NoAck ? " (not acked)" : "")}.");
        }
        return 0;
    }

    /// <summary>JSON values as JSON text; other bytes as UTF-8 text when they are, else base64.</summary>
    private static string ValueText(JsonElement record)
    {
        if (record.TryGetProperty("value", out var value))
        {
            return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
        }
        if (record.TryGetProperty("valueBase64", out var base64) && base64.GetString() is { } text)
        {
            var bytes = Convert.FromBase64String(text);
            return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : $"base64:{text}";
        }
        return "";
    }
}
