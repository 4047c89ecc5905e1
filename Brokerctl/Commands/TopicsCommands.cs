using System.ComponentModel;
using System.Text.Json;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class TopicSettings : BrokerSettings
{
    [CommandArgument(0, "<topic>"), Description("The topic's name")]
    public string Topic { get; init; } = "";
}

public sealed class TopicCreateSettings : BrokerSettings
{
    [CommandArgument(0, "<topic>")]
    public string Topic { get; init; } = "";

    [CommandOption("-p|--partitions <N>"), Description("Partitions (default 1; may grow later, never shrink)")]
    public int? Partitions { get; init; }

    [CommandOption("--retention-ms <MS>"), Description("How long records are kept (-1: forever; default 7 days)")]
    public long? RetentionMs { get; init; }

    [CommandOption("--compression <CODEC>"), Description("none, lz4 or zstd")]
    public string? Compression { get; init; }

    [CommandOption("--schema-subject <SUBJECT>"), Description("Values must be Avro registered under this subject")]
    public string? SchemaSubject { get; init; }

    [CommandOption("--max-delivery-attempts <N>")]
    public int? MaxDeliveryAttempts { get; init; }

    [CommandOption("--acks <MODE>"), Description("leader (default: acknowledged once the Redis primary has it) or replicas (once replicas confirmed it)")]
    public string? Acks { get; init; }
}

/// <summary>topics create: PUT /v1/topics/{topic} on Storage (creates it, or changes what is given).</summary>
public sealed class TopicsCreateCommand : AsyncCommand<TopicCreateSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TopicCreateSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var topic = await storage.PutAsync($"v1/topics/{Uri.EscapeDataString(settings.Topic)}", new
        {
            partitions = settings.Partitions,
            retentionMs = settings.RetentionMs,
            compression = settings.Compression,
            schemaSubject = settings.SchemaSubject,
            maxDeliveryAttempts = settings.MaxDeliveryAttempts,
            acks = settings.Acks,
        }, cancellationToken);
        if (settings.Json)
        {
            Output.Json(topic);
        }
        else
        {
            Output.Say($"Topic {settings.Topic}: {Output.Count(topic.GetProperty("partitions").GetInt32(), "partition")}, compression {Output.Text(topic, "compression")}.");
        }
        return 0;
    }
}

/// <summary>topics list: every topic with its partitions and settings.</summary>
public sealed class TopicsListCommand : AsyncCommand<BrokerSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BrokerSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var list = await storage.GetAsync("v1/topics", cancellationToken);
        if (settings.Json)
        {
            Output.Json(list);
            return 0;
        }
        Output.Table(["topic", "partitions", "retention ms", "compression", "schema subject", "dead-letter topic"],
            list.GetProperty("topics").EnumerateArray().Select(t => (IReadOnlyList<string>)
            [
                Output.Text(t, "name"), Output.Text(t, "partitions"), Output.Text(t, "retentionMs"), Output.Text(t, "compression"),
                Output.Text(t, "schemaSubject"), Output.Text(t, "deadLetterTopic"),
            ]));
        return 0;
    }
}

/// <summary>topics describe: settings and per-partition offsets (both tiers).</summary>
public sealed class TopicsDescribeCommand : AsyncCommand<TopicSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TopicSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var topic = await storage.GetAsync($"v1/topics/{Uri.EscapeDataString(settings.Topic)}", cancellationToken);
        if (settings.Json)
        {
            Output.Json(topic);
            return 0;
        }
        Output.Say($"Topic {Output.Text(topic, "name")}: {Output.Count(topic.GetProperty("partitions").GetInt32(), "partition")}, retention {Output.Text(topic, "retentionMs")} ms, " +
                   $"compression {Output.Text(topic, "compression")}, acks {Output.Text(topic, "acks")}, max delivery attempts {Output.Text(topic, "maxDeliveryAttempts")}, " +
                   $"dead letters to {Output.Text(topic, "deadLetterTopic")}");
        if (topic.TryGetProperty("partitionOffsets", out var partitions) && partitions.ValueKind == JsonValueKind.Array)
        {
            Output.Table(["partition", "start", "hot start", "end", "records", "hot bytes", "cold bytes"],
                partitions.EnumerateArray().Select(p => (IReadOnlyList<string>)
                [
                    Output.Text(p, "partition"), Output.Text(p, "startOffset"), Output.Text(p, "hotStartOffset"), Output.Text(p, "endOffset"),
                    Output.Number(p.GetProperty("endOffset").GetInt64() - p.GetProperty("startOffset").GetInt64()),
                    Output.Number(p.GetProperty("hotBytes").GetInt64()), Output.Number(p.GetProperty("coldBytes").GetInt64()),
                ]));
        }
        return 0;
    }
}

public sealed class TopicsDeleteCommand : AsyncCommand<TopicSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TopicSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        await storage.DeleteAsync($"v1/topics/{Uri.EscapeDataString(settings.Topic)}", cancellationToken);
        if (settings.Json)
        {
            Output.JsonLine(new { deleted = settings.Topic });
        }
        else
        {
            Output.Say($"Topic {settings.Topic} deleted.");
        }
        return 0;
    }
}
