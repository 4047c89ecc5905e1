using Broker.Ctl;
using Broker.Ctl.Client;
using Broker.Ctl.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

// brokerctl: the broker from a shell. Tables for people, --json for scripts; a non-zero exit code on any error
// (1 refused, 2 bad input, 3 unreachable). --token (BROKER_TOKEN) authenticates every call; it is never printed.
if (Console.IsOutputRedirected)
{
    // Read by a script or written to a file: tables as wide as they need.
    AnsiConsole.Profile.Width = 240;
}
// Whole-number options refuse what is not one naming the option (WholeNumbers).
WholeNumbers.Register();
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("brokerctl");
    config.PropagateExceptions();
    config.AddBranch("topics", topics =>
    {
        topics.SetDescription("Create, list, describe and delete topics (Storage)");
        topics.AddCommand<TopicsCreateCommand>("create").WithDescription("Create a topic, or change its settings").WithExample("topics", "create", "orders", "--partitions", "8");
        topics.AddCommand<TopicsListCommand>("list").WithDescription("Every topic");
        topics.AddCommand<TopicsDescribeCommand>("describe").WithDescription("A topic's settings and per-partition offsets");
        topics.AddCommand<TopicsDeleteCommand>("delete").WithDescription("Delete a topic and its records");
    });
    config.AddCommand<ProduceCommand>("produce").WithDescription("Produce records: arguments, --file lines or stdin lines (Ingest)")
        // Quoted as bash needs it: the example is meant to be pasted.
        .WithExample("produce", "orders", "'{\"id\":1}'", "--key", "customer-7");
    config.AddCommand<ConsumeCommand>("consume").WithDescription("Consume as a group member, acking what is printed (Delivery)")
        .WithExample("consume", "orders", "--group", "billing", "--follow");
    config.AddBranch("groups", groups =>
    {
        groups.SetDescription("Consumer groups (Delivery)");
        groups.AddCommand<GroupsDescribeCommand>("describe").WithDescription("Committed offsets and lag per partition");
    });
    config.AddBranch("schemas", schemas =>
    {
        schemas.SetDescription("Avro schemas (SchemaRegistry)");
        schemas.AddCommand<SchemasRegisterCommand>("register").WithDescription("Register a schema under a subject");
        schemas.AddCommand<SchemasListCommand>("list").WithDescription("Subjects, versions and latest ids");
        schemas.AddCommand<SchemasCheckCommand>("check").WithDescription("Is a schema compatible with a subject? (exit 1 when not)");
    });
    config.AddBranch("replay", replay =>
    {
        replay.SetDescription("Replay jobs over a topic's history (Delivery)");
        replay.AddCommand<ReplayStartCommand>("start").WithDescription("Start a replay job").WithExample("replay", "start", "orders", "--to-group", "billing", "--from-offset", "0", "--watch");
        replay.AddCommand<ReplayStatusCommand>("status").WithDescription("A job's progress (--watch: a live progress bar)");
        replay.AddCommand<ReplayCancelCommand>("cancel").WithDescription("Cancel a job");
    });
    config.AddBranch("acls", acls =>
    {
        acls.SetDescription("Who may do what: ACLs of principal, resource, operations, allow or deny (Storage; needs alter or describe on the cluster)");
        acls.AddCommand<AclsListCommand>("list").WithDescription("The ACLs, or those the filters pick")
            .WithExample("acls", "list", "--principal", "alice")
            .WithExample("acls", "list", "--resource-type", "topic", "--resource", "orders", "--pattern", "match");
        acls.AddCommand<AclsAddCommand>("add").WithDescription("Allow (or --deny) a principal operations on a topic, group, subject or the cluster")
            .WithExample("acls", "add", "alice", "--topic", "orders", "--operation", "write", "--operation", "read")
            .WithExample("acls", "add", "billing", "--group", "billing-", "--prefixed", "--operation", "read");
        acls.AddCommand<AclsRemoveCommand>("remove").WithDescription("Remove operations of an ACL (the options of add)")
            .WithExample("acls", "remove", "alice", "--topic", "orders", "--operation", "write");
    });
    config.AddCommand<BenchCommand>("bench").WithDescription("A quick produce benchmark against the running broker (bench/*.sh are the full ones)");
});

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
try
{
    return await app.RunAsync(args, cancellation.Token);
}
catch (CtlException ex)
{
    Console.Error.WriteLine($"brokerctl: {ex.Message}");
    return ex.ExitCode;
}
catch (CommandAppException ex)
{
    Console.Error.WriteLine($"brokerctl: {WholeNumbers.Refusal(ex, args) ?? ex.Message}");
    return 2;
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    return 130;
}
catch (System.Text.Json.JsonException ex)
{
    AnsiConsole.WriteLine($"brokerctl: an answer was not the JSON expected: {ex.Message}");
    return 1;
}
