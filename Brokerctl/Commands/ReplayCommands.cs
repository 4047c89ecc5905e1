using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Broker.Ctl.Client;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class ReplayStartSettings : BrokerSettings
{
    [CommandArgument(0, "<topic>"), Description("The topic to replay")]
    public string Topic { get; init; } = "";

    [CommandOption("--to-group <GROUP>"), Description("Rewind this group (it must have no live consumers)")]
    public string? Group { get; init; }

    [CommandOption("--to-topic <TOPIC>"), Description("Republish into this topic (exactly once)")]
    public string? TargetTopic { get; init; }

    [CommandOption("--to-url <URL>"), Description("POST each record to this URL")]
    public string? Url { get; init; }

    [CommandOption("--verify"), Description("Read and check every record, deliver nothing")]
    public bool Verify { get; init; }

    [CommandOption("--from-offset <N>")]
    public long? FromOffset { get; init; }

    [CommandOption("--to-offset <N>")]
    public long? ToOffset { get; init; }

    [CommandOption("--from-time <TIME>"), Description("ISO 8601 time, or Unix milliseconds")]
    public string? FromTime { get; init; }

    [CommandOption("--to-time <TIME>")]
    public string? ToTime { get; init; }

    [CommandOption("--rate <RECORDS_PER_S>")]
    public int? Rate { get; init; }

    [CommandOption("-w|--watch"), Description("Show a live progress bar until the job ends")]
    public bool Watch { get; init; }
}

public sealed class ReplayIdSettings : BrokerSettings
{
    [CommandArgument(0, "<id>")]
    public string Id { get; init; } = "";

    [CommandOption("-w|--watch"), Description("Show a live progress bar until the job ends")]
    public bool Watch { get; init; }
}

/// <summary>replay start: a replay job (POST /v1/replays), optionally watched to its end.</summary>
public sealed class ReplayStartCommand : AsyncCommand<ReplayStartSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReplayStartSettings settings, CancellationToken cancellationToken)
    {
        var targets = new object?[] { settings.Group, settings.TargetTopic, settings.Url, settings.Verify ? true : null }.Count(t => t is not null);
        if (targets != 1)
        {
            throw new CtlException("Name one target: --to-group, --to-topic, --to-url or --verify.", 2);
        }
        using var delivery = settings.Connection.Http("Delivery", settings.Delivery);
        var job = await delivery.PostAsync("v1/replays", new
        {
            topic = settings.Topic,
            start = Position(settings.FromOffset, settings.FromTime, "--from-time"),
            end = Position(settings.ToOffset, settings.ToTime, "--to-time"),
            target = new { group = settings.Group, topic = settings.TargetTopic, url = settings.Url, verify = settings.Verify ? true : (bool?)null },
            rateLimit = settings.Rate,
        }, cancellationToken);
        var id = job.GetProperty("id").GetString()!;
        if (settings.Watch)
        {
            return await ReplayStatus.WatchAsync(delivery, id, settings.Json, cancellationToken);
        }
        ReplayStatus.Print(job, settings.Json);
        return 0;
    }

    private static object? Position(long? offset, string? time, string option)
    {
        if (offset is { } o)
        {
            return new { offset = o };
        }
        if (time is null)
        {
            return null;
        }
        if (long.TryParse(time, out var ms))
        {
            return new { timestamp = ms };
        }
        return DateTimeOffset.TryParse(time, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? new { timestamp = at.ToUnixTimeMilliseconds() }
            : throw new CtlException($"{option} is an ISO 8601 time or Unix milliseconds; got '{time}'.", 2);
    }
}

/// <summary>replay status: a job's state and progress (or every job's, with no id given as "all").</summary>
public sealed class ReplayStatusCommand : AsyncCommand<ReplayIdSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReplayIdSettings settings, CancellationToken cancellationToken)
    {
        using var delivery = settings.Connection.Http("Delivery", settings.Delivery);
        if (settings.Watch)
        {
            return await ReplayStatus.WatchAsync(delivery, settings.Id, settings.Json, cancellationToken);
        }
        ReplayStatus.Print(await delivery.GetAsync($"v1/replays/{Uri.EscapeDataString(settings.Id)}", cancellationToken), settings.Json);
        return 0;
    }
}

public sealed class ReplayCancelCommand : AsyncCommand<ReplayIdSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReplayIdSettings settings, CancellationToken cancellationToken)
    {
        using var delivery = settings.Connection.Http("Delivery", settings.Delivery);
        ReplayStatus.Print(await delivery.DeleteAsync($"v1/replays/{Uri.EscapeDataString(settings.Id)}", cancellationToken), settings.Json);
        return 0;
    }
}

internal static class ReplayStatus
{
    private static readonly string[] s_finished = ["completed", "failed", "cancelled"];

    public static void Print(JsonElement job, bool json)
    {
        if (json)
        {
            Output.Json(job);
            return;
        }
        Output.Table(["id", "topic", "state", "done", "total", "percent", "records/s", "eta s"],
        [[
            Output.Text(job, "id"), Output.Text(job, "topic"), Output.Text(job, "state"), Output.Text(job, "recordsDone"), Output.Text(job, "recordsTotal"),
            Output.Text(job, "percent"), Rate(job), Output.Text(job, "etaSeconds"),
        ]]);
        if (Output.Text(job, "error") is { Length: > 0 } error)
        {
            Output.Say($"error: {error}");
        }
    }

    /// <summary>
    /// Records per second: while the job runs, Delivery's rate over its last progress interval; once it has finished
    /// (Delivery says 0 then), the whole run's: the records done over the time from its start to its end. Blank for a
    /// job that finished without starting.
    /// </summary>
    public static string Rate(JsonElement job)
    {
        if (!s_finished.Contains(Output.Text(job, "state")))
        {
            return Output.Text(job, "recordsPerSecond");
        }
        if (job.TryGetProperty("startedAt", out var started) && started.ValueKind == JsonValueKind.String
            && job.TryGetProperty("finishedAt", out var finished) && finished.ValueKind == JsonValueKind.String
            && (finished.GetDateTimeOffset() - started.GetDateTimeOffset()).TotalSeconds is var seconds and > 0)
        {
            return Math.Round(job.GetProperty("recordsDone").GetInt64() / seconds, 1).ToString(CultureInfo.InvariantCulture);
        }
        return "";
    }

    /// <summary>Polls the job twice a second with a progress bar (a line per poll with --json) until it ends; 1 when it failed.</summary>
    public static async Task<int> WatchAsync(BrokerHttp delivery, string id, bool json, CancellationToken cancellationToken)
    {
        JsonElement job = default;
        async Task<JsonElement> Poll() => job = await delivery.GetAsync($"v1/replays/{Uri.EscapeDataString(id)}", cancellationToken);
        if (json)
        {
            do
            {
                Output.JsonLine(await Poll());
                await Task.Delay(500, cancellationToken);
            }
            while (!s_finished.Contains(Output.Text(job, "state")));
        }
        else
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    var bar = progress.AddTask($"replay {id}");
                    while (true)
                    {
                        await Poll();
                        bar.MaxValue = Math.Max(1, job.GetProperty("recordsTotal").GetInt64());
                        bar.Value = job.GetProperty("recordsDone").GetInt64();
                        bar.Description = $"replay {id} {Output.Text(job, "state")} {Output.Count(job.GetProperty("recordsDone").GetInt64(), "record")}";
                        if (s_finished.Contains(Output.Text(job, "state")))
                        {
                            bar.Value = bar.MaxValue;
                            break;
                        }
                        await Task.Delay(500, cancellationToken);
                    }
                });
            Print(job, json: false);
        }
        return Output.Text(job, "state") == "failed" ? 1 : 0;
    }
}
