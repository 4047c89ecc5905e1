using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

/// <summary>The words Storage's ACL API takes; checked here so bad input exits 2 before any call.</summary>
internal static class AclWords
{
    public static readonly string[] Operations = ["read", "write", "create", "delete", "alter", "describe", "all"];
    public static readonly string[] ResourceTypes = ["topic", "group", "subject", "cluster"];
    public static readonly string[] Patterns = ["literal", "prefixed", "match"];
    public static readonly string[] Permissions = ["allow", "deny"];

    /// <summary>The word in lower case when it is one of <paramref name="words"/>, else null.</summary>
    public static string? Find(string[] words, string? text) =>
        words.FirstOrDefault(w => string.Equals(w, text?.Trim(), StringComparison.OrdinalIgnoreCase));

    public static string List(string[] words) => string.Join(", ", words.SkipLast(1)) + " or " + words[^1];
}

public sealed class AclListSettings : BrokerSettings
{
    [CommandOption("--principal <PRINCIPAL>"), Description("Only this principal's ACLs")]
    public string? Principal { get; init; }

    [CommandOption("--resource-type <TYPE>"), Description("topic, group, subject or cluster")]
    public string? ResourceType { get; init; }

    [CommandOption("--resource <NAME>"), Description("Only ACLs on this resource name (see --pattern)")]
    public string? Resource { get; init; }

    [CommandOption("--pattern <PATTERN>"), Description("With --resource: literal (default), prefixed, or match (every ACL that applies to the name)")]
    public string? Pattern { get; init; }

    [CommandOption("--operation <OP>"), Description("read, write, create, delete, alter, describe or all")]
    public string? Operation { get; init; }

    [CommandOption("--permission <PERMISSION>"), Description("allow or deny")]
    public string? Permission { get; init; }

    public override ValidationResult Validate()
    {
        if (ResourceType is not null && AclWords.Find(AclWords.ResourceTypes, ResourceType) is null)
        {
            return ValidationResult.Error($"--resource-type is {AclWords.List(AclWords.ResourceTypes)}; got '{ResourceType}'.");
        }
        if (Pattern is not null && AclWords.Find(AclWords.Patterns, Pattern) is null)
        {
            return ValidationResult.Error($"--pattern is {AclWords.List(AclWords.Patterns)}; got '{Pattern}'.");
        }
        if (Pattern is not null && Resource is null)
        {
            return ValidationResult.Error("--pattern filters by --resource: give it too.");
        }
        if (Operation is not null && AclWords.Find(AclWords.Operations, Operation) is null)
        {
            return ValidationResult.Error($"--operation is {AclWords.List(AclWords.Operations)}; got '{Operation}'.");
        }
        if (Permission is not null && AclWords.Find(AclWords.Permissions, Permission) is null)
        {
            return ValidationResult.Error($"--permission is allow or deny; got '{Permission}'.");
        }
        return base.Validate();
    }

    /// <summary>GET /v1/acls with the filters given.</summary>
    public string Path()
    {
        var query = new StringBuilder();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            }
        }
        Add("principal", Principal);
        Add("resourceType", AclWords.Find(AclWords.ResourceTypes, ResourceType));
        Add("resourceName", Resource);
        Add("pattern", AclWords.Find(AclWords.Patterns, Pattern));
        Add("operation", AclWords.Find(AclWords.Operations, Operation));
        Add("permission", AclWords.Find(AclWords.Permissions, Permission));
        return "v1/acls" + query;
    }
}

/// <summary>One binding, as acls add and acls remove take it: a principal, one resource, operations, allow or --deny.</summary>
public sealed class AclChangeSettings : BrokerSettings
{
    [CommandArgument(0, "<principal>"), Description("Who: a principal's name (an API key's name, a JWT's subject), or '*' for everyone")]
    public string Principal { get; init; } = "";

    [CommandOption("--topic <NAME>"), Description("A topic ('*': every topic; with --prefixed: every topic whose name starts so)")]
    public string? Topic { get; init; }

    [CommandOption("--group <NAME>"), Description("A consumer group")]
    public string? Group { get; init; }

    [CommandOption("--subject <NAME>"), Description("A schema registry subject")]
    public string? Subject { get; init; }

    [CommandOption("--cluster"), Description("The cluster (ACL administration, listing)")]
    public bool Cluster { get; init; }

    [CommandOption("--prefixed"), Description("The name is a prefix")]
    public bool Prefixed { get; init; }

    [CommandOption("--operation <OP>"), Description("read, write, create, delete, alter, describe or all; repeatable")]
    public string[] Operations { get; init; } = [];

    [CommandOption("--deny"), Description("Deny the operations (deny wins over any allow)")]
    public bool Deny { get; init; }

    public override ValidationResult Validate()
    {
        var resources = new[] { Topic is not null, Group is not null, Subject is not null, Cluster }.Count(given => given);
        if (resources != 1)
        {
            return ValidationResult.Error(resources == 0
                ? "Name the resource: --topic NAME, --group NAME, --subject NAME or --cluster."
                : "Name one resource: only one of --topic, --group, --subject and --cluster.");
        }
        if (Cluster && Prefixed)
        {
            return ValidationResult.Error("--prefixed names a prefix of topics, groups or subjects; the cluster has none.");
        }
        if (new[] { Topic, Group, Subject }.Any(name => name is { Length: 0 }))
        {
            return ValidationResult.Error("A resource name is not empty.");
        }
        if (Operations.Length == 0)
        {
            return ValidationResult.Error($"Name the operations: --operation OP (repeatable), OP one of {AclWords.List(AclWords.Operations)}.");
        }
        if (Operations.FirstOrDefault(o => AclWords.Find(AclWords.Operations, o) is null) is { } unknown)
        {
            return ValidationResult.Error($"'{unknown}' is not an operation: {AclWords.List(AclWords.Operations)}.");
        }
        return string.IsNullOrWhiteSpace(Principal) ? ValidationResult.Error("Name the principal.") : base.Validate();
    }

    /// <summary>The binding's JSON body: the same for POST and DELETE /v1/acls.</summary>
    public object Binding() => new
    {
        principal = Principal,
        resource = new
        {
            type = Topic is not null ? "topic" : Group is not null ? "group" : Subject is not null ? "subject" : "cluster",
            name = Topic ?? Group ?? Subject,
            pattern = Prefixed ? "prefixed" : "literal",
        },
        operations = Operations.Select(o => AclWords.Find(AclWords.Operations, o)!).Distinct().ToArray(),
        permission = Deny ? "deny" : "allow",
    };
}

/// <summary>acls list: every ACL, or those the filters pick (GET /v1/acls on Storage; needs describe on the cluster).</summary>
public sealed class AclsListCommand : AsyncCommand<AclListSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, AclListSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var list = await storage.GetAsync(settings.Path(), cancellationToken);
        if (settings.Json)
        {
            Output.Json(list);
            return 0;
        }
        var acls = list.GetProperty("acls");
        Output.Table(["principal", "resource type", "pattern", "name", "operations", "permission"],
            acls.EnumerateArray().Select(acl => (IReadOnlyList<string>)
            [
                Output.Text(acl, "principal"), Output.Text(acl.GetProperty("resource"), "type"), Output.Text(acl.GetProperty("resource"), "pattern"),
                Output.Text(acl.GetProperty("resource"), "name"), Acls.Operations(acl), Output.Text(acl, "permission"),
            ]));
        Output.Say($"{Output.Count(acls.GetArrayLength(), "ACL")}.");
        return 0;
    }
}

/// <summary>acls add: POST /v1/acls (needs alter on the cluster); every service enforces it within moments.</summary>
public sealed class AclsAddCommand : AsyncCommand<AclChangeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, AclChangeSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var change = await storage.PostAsync("v1/acls", settings.Binding(), cancellationToken);
        Acls.Print(change, settings.Json, changed => changed > 0 ? "Added" : "Already there");
        return 0;
    }
}

/// <summary>acls remove: DELETE /v1/acls with the same binding (the operations named; exit 1 when none was there).</summary>
public sealed class AclsRemoveCommand : AsyncCommand<AclChangeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, AclChangeSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var change = await storage.SendAsync(HttpMethod.Delete, "v1/acls", settings.Binding(), cancellationToken);
        Acls.Print(change, settings.Json, _ => "Removed");
        return 0;
    }
}

internal static class Acls
{
    public static string Operations(JsonElement binding) =>
        binding.TryGetProperty("operations", out var operations) && operations.ValueKind == JsonValueKind.Array
            ? string.Join(", ", operations.EnumerateArray().Select(o => o.GetString()))
            : "";

    /// <summary>A change's answer (<c>{"changed","binding"}</c>): as JSON, or one line: "Added: allow alice read, write on topic 'orders'."</summary>
    public static void Print(JsonElement change, bool json, Func<int, string> verb)
    {
        if (json)
        {
            Output.Json(change);
            return;
        }
        var binding = change.GetProperty("binding");
        var resource = binding.GetProperty("resource");
        var name = Output.Text(resource, "name") + (Output.Text(resource, "pattern") == "prefixed" ? "*' (prefixed)" : "'");
        Output.Say($"{verb(change.GetProperty("changed").GetInt32())}: {Output.Text(binding, "permission")} {Output.Text(binding, "principal")} " +
                   $"{Operations(binding)} on {Output.Text(resource, "type")} '{name}.");
    }
}
