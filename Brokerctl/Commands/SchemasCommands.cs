using System.ComponentModel;
using System.Text.Json;
using Broker.Ctl.Client;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class SchemaSettings : BrokerSettings
{
    [CommandArgument(0, "<subject>"), Description("The subject (a topic's values: <topic>-value)")]
    public string Subject { get; init; } = "";

    [CommandArgument(1, "<schema>"), Description("The Avro schema: a file, or the JSON itself")]
    public string Schema { get; init; } = "";

    /// <summary>The schema's text: the file's when it names one.</summary>
    public string SchemaText() => File.Exists(Schema) ? File.ReadAllText(Schema) : Schema;
}

internal static class Registry
{
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    public static Task<JsonElement> PostAsync(BrokerHttp registry, string path, object body, CancellationToken cancellationToken) =>
        registry.SendAsync(HttpMethod.Post, path, body, cancellationToken, ContentType);
}

/// <summary>schemas register: the schema under the subject (its id; the same schema again gets the same id).</summary>
public sealed class SchemasRegisterCommand : AsyncCommand<SchemaSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SchemaSettings settings, CancellationToken cancellationToken)
    {
        using var registry = settings.Connection.Http("SchemaRegistry", settings.Registry);
        var answer = await Registry.PostAsync(registry, $"subjects/{Uri.EscapeDataString(settings.Subject)}/versions", new { schema = settings.SchemaText() }, cancellationToken);
        if (settings.Json)
        {
            Output.Json(answer);
        }
        else
        {
            Output.Say($"Registered under {settings.Subject}: schema id {Output.Text(answer, "id")}.");
        }
        return 0;
    }
}

/// <summary>schemas check: whether the schema is compatible with the subject's versions (its compatibility level), and why not.</summary>
public sealed class SchemasCheckCommand : AsyncCommand<SchemaSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SchemaSettings settings, CancellationToken cancellationToken)
    {
        using var registry = settings.Connection.Http("SchemaRegistry", settings.Registry);
        var answer = await Registry.PostAsync(registry, $"compatibility/subjects/{Uri.EscapeDataString(settings.Subject)}/versions?verbose=true",
            new { schema = settings.SchemaText() }, cancellationToken);
        var compatible = answer.GetProperty("is_compatible").GetBoolean();
        if (settings.Json)
        {
            Output.Json(answer);
        }
        else
        {
            Output.Say(compatible ? $"Compatible with {settings.Subject}." : $"Not compatible with {settings.Subject}:");
            if (answer.TryGetProperty("messages", out var messages))
            {
                foreach (var message in messages.EnumerateArray())
                {
                    Output.Say($"  {message.GetString()}");
                }
            }
        }
        return compatible ? 0 : 1;
    }
}

/// <summary>schemas list: every subject with its versions and the latest schema id.</summary>
public sealed class SchemasListCommand : AsyncCommand<BrokerSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BrokerSettings settings, CancellationToken cancellationToken)
    {
        using var registry = settings.Connection.Http("SchemaRegistry", settings.Registry);
        var subjects = await registry.GetAsync("subjects", cancellationToken);
        var rows = new List<IReadOnlyList<string>>();
        var all = new List<object>();
        foreach (var subject in subjects.EnumerateArray().Select(s => s.GetString()!))
        {
            var versions = await registry.GetAsync($"subjects/{Uri.EscapeDataString(subject)}/versions", cancellationToken);
            var latest = await registry.GetAsync($"subjects/{Uri.EscapeDataString(subject)}/versions/latest", cancellationToken);
            rows.Add([subject, string.Join(", ", versions.EnumerateArray().Select(v => v.GetRawText())), Output.Text(latest, "id")]);
            all.Add(new { subject, versions, latestId = latest.GetProperty("id").GetInt32() });
        }
        if (settings.Json)
        {
            Output.JsonLine(all);
        }
        else
        {
            Output.Table(["subject", "versions", "latest id"], rows);
        }
        return 0;
    }
}
