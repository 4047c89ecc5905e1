using System.Globalization;
using System.Text.Json;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Xunit.Abstractions;

namespace Broker.Security.Tests.Cli;

/// <summary>
/// What brokerctl prints for people, run as a process against a real broker: counts in the singular for one, a
/// finished replay's rate over its whole run, and help examples that paste into bash as they read.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class BrokerctlOutputTests(RedisFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private SecureBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("brokerctl-output"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Counts_of_one_are_singular_and_others_plural()
    {
        Assert.Equal("Topic solo: 1 partition, compression none.", await LastLineAsync("topics", "create", "solo"));
        Assert.Equal("Topic trio: 3 partitions, compression none.", await LastLineAsync("topics", "create", "trio", "--partitions", "3"));
        Assert.StartsWith("Topic solo: 1 partition, retention ", await SucceedAsync("topics", "describe", "solo"), StringComparison.Ordinal);

        await SucceedAsync("produce", "solo", """{"id":1}""");
        Assert.Equal("1 record from solo as group g.", await LastLineAsync("consume", "solo", "--group", "g", "--wait-ms", "500"));
        Assert.Equal("0 records from solo as group g.", await LastLineAsync("consume", "solo", "--group", "g", "--wait-ms", "200"));
        Assert.Equal("Group g: lag 0 over 1 topic.", await LastLineAsync("groups", "describe", "g"));

        // More than 20 records are counted rather than listed.
        Assert.Equal("21 records produced to solo (1 partition).",
            await LastLineAsync(["produce", "solo", .. Enumerable.Range(1, 21).Select(i => i.ToString(CultureInfo.InvariantCulture))]));

        Assert.Equal("0 ACLs.", await LastLineAsync("acls", "list", "--principal", "carol"));
        await SucceedAsync("acls", "add", "carol", "--topic", "solo", "--operation", "read");
        Assert.Equal("1 ACL.", await LastLineAsync("acls", "list", "--principal", "carol"));
        await SucceedAsync("acls", "add", "carol", "--topic", "trio", "--operation", "read");
        Assert.Equal("2 ACLs.", await LastLineAsync("acls", "list", "--principal", "carol"));
    }

    [Fact]
    public async Task A_finished_replay_shows_its_rate_over_the_whole_run()
    {
        await SucceedAsync("topics", "create", "history", "--partitions", "2");
        await SucceedAsync(["produce", "history", .. Enumerable.Range(1, 500).Select(i => $"{{\"id\":{i}}}")]);

        var id = JsonDocument.Parse(await SucceedAsync("replay", "start", "history", "--verify", "--from-offset", "0", "--json"))
            .RootElement.GetProperty("id").GetString()!;
        JsonElement job;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((job = JsonDocument.Parse(await SucceedAsync("replay", "status", id, "--json")).RootElement).GetProperty("state").GetString() != "completed")
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"The replay did not complete: {job}");
            await Task.Delay(200);
        }
        // Delivery's own rate is the last progress interval's, 0 once the job is done: the table shows the whole run's.
        Assert.Equal(0, job.GetProperty("recordsPerSecond").GetDouble());
        var seconds = (job.GetProperty("finishedAt").GetDateTimeOffset() - job.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
        var rate = Math.Round(500 / seconds, 1);
        Assert.True(rate > 0, job.ToString());

        var row = TableRow(await SucceedAsync("replay", "status", id), "records/s");

        Assert.Equal("completed", row["state"]);
        Assert.Equal("500", row["done"]);
        Assert.Equal(rate.ToString(CultureInfo.InvariantCulture), row["records/s"]);
        Assert.Equal("", row["eta s"]);
    }

    [Fact]
    public async Task The_produce_example_in_the_help_pastes_into_bash_as_it_reads()
    {
        var help = await SucceedAsync("produce", "--help");
        var lines = help.Split('\n').Select(l => l.Trim()).ToList();
        var example = lines[lines.IndexOf("EXAMPLES:") + 1];
        Assert.Equal("""brokerctl produce orders '{"id":1}' --key customer-7""", example);
        await SucceedAsync("topics", "create", "orders");

        var pasted = await BrokerctlProcess.RunInBashAsync(Environment(), $"{example} --ingest {_broker.IngestHttp}");
        Assert.True(pasted.ExitCode == 0, pasted.ToString());

        var consumed = await SucceedAsync("consume", "orders", "--group", "pasted", "--json", "--wait-ms", "500");
        var record = JsonDocument.Parse(Assert.Single(consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("customer-7", record.GetProperty("key").GetString());
        Assert.Equal(1, record.GetProperty("value").GetProperty("id").GetInt32());
    }

    /// <summary>The cells of a Spectre table's first row, by column: the table is the one whose header names <paramref name="column"/>.</summary>
    private static Dictionary<string, string> TableRow(string table, string column)
    {
        static string[] Cells(string line) => [.. line.Trim().Trim('│').Split('│').Select(c => c.Trim())];
        var lines = table.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var header = lines.FindIndex(l => l.Contains($" {column} ", StringComparison.Ordinal));
        Assert.True(header >= 0, table);
        // The header, a rule, then the row.
        return Cells(lines[header]).Zip(Cells(lines[header + 2])).ToDictionary(c => c.First, c => c.Second);
    }

    private Dictionary<string, string> Environment() => new() { ["BROKER_TOKEN"] = SecureBroker.AdminKey };

    private async Task<string> LastLineAsync(params string[] arguments) =>
        (await SucceedAsync(arguments)).TrimEnd().Split('\n')[^1].TrimEnd('\r');

    /// <summary>Runs brokerctl pointed at this test's broker as the superuser and fails the test unless it exits 0.</summary>
    private async Task<string> SucceedAsync(params string[] arguments)
    {
        var result = await BrokerctlProcess.RunAsync(Environment(),
        [
            .. arguments, "--storage", _broker.StorageHttp.ToString(), "--ingest", _broker.IngestHttp.ToString(),
            "--ingest-grpc", _broker.IngestGrpc.ToString(), "--delivery", _broker.DeliveryHttp.ToString(), "--registry", _broker.Registry.ToString(),
        ]);
        output.WriteLine($"brokerctl {string.Join(' ', arguments)}: exit {result.ExitCode}\n{result.Output}{result.Error}");
        Assert.True(result.ExitCode == 0, $"brokerctl {string.Join(' ', arguments)}: {result}");
        return result.Output;
    }
}
