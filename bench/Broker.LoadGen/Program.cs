using Broker.LoadGen;

LoadGenOptions options;
try
{
    if (args is ["--help"] or ["-h"])
    {
        Console.Error.WriteLine(LoadGenOptions.Usage);
        return 0;
    }
    options = LoadGenOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(LoadGenOptions.Usage);
    return 2;
}

// Bounded in time as well as in count: a stuck run ends by itself.
using var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(20));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

try
{
    if (options.Scenario == LoadGenOptions.IngestSchema)
    {
        var checkedReport = await SchemaEnforcementRun.RunAsync(options, cancellation.Token);
        Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(checkedReport, ReportJsonContext.Default.Report));
        return 0;
    }
    if (options.Scenario == LoadGenOptions.Replay)
    {
        var replay = await ReplayRun.RunAsync(options, cancellation.Token);
        Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(replay, ReplayJsonContext.Default.ReplayReport));
        return 0;
    }
    if (options.Scenario == LoadGenOptions.DaprPublish)
    {
        var dapr = await DaprPublishRun.RunAsync(options, cancellation.Token);
        Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(dapr, DaprPublishJsonContext.Default.DaprPublishReport));
        return 0;
    }
    if (options.Scenario == LoadGenOptions.ProduceDeliver)
    {
        var endToEnd = await Broker.LoadGen.EndToEnd.EndToEndRun.RunAsync(options, cancellation.Token);
        Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(endToEnd, Broker.LoadGen.EndToEnd.EndToEndJsonContext.Default.EndToEndReport));
        return 0;
    }
    var report = await LoadRun.RunAsync(options, cancellation.Token);
    Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(report, ReportJsonContext.Default.Report));
    return 0;
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    Console.Error.WriteLine($"loadgen: FAILED: {ex}");
    return 1;
}
