namespace Broker.Security.Tests.Cli;

/// <summary>
/// brokerctl, run as a process: a whole-number option given anything else is refused in one line naming the option as
/// it was typed, exit 2, before any call (the services' URLs lead nowhere: a call would exit 3).
/// </summary>
public sealed class WholeNumberOptionTests
{
    private static readonly Dictionary<string, string> s_nowhere = new()
    {
        ["BROKER_STORAGE_URL"] = "http://127.0.0.1:1",
        ["BROKER_INGEST_URL"] = "http://127.0.0.1:1",
        ["BROKER_INGEST_GRPC_URL"] = "http://127.0.0.1:1",
        ["BROKER_DELIVERY_URL"] = "http://127.0.0.1:1",
        ["BROKER_REGISTRY_URL"] = "http://127.0.0.1:1",
    };

    [Theory]
    [InlineData("brokerctl: --partitions: 'abc' is not a whole number.", "topics", "create", "orders", "--partitions", "abc")]
    [InlineData("brokerctl: --partitions: 'abc' is not a whole number.", "topics", "create", "orders", "--partitions=abc")]
    [InlineData("brokerctl: -p: 'abc' is not a whole number.", "topics", "create", "orders", "-p", "abc")]
    [InlineData("brokerctl: --retention-ms: '1.5' is not a whole number.", "topics", "create", "orders", "--retention-ms", "1.5")]
    [InlineData("brokerctl: --partitions: '99999999999' is out of range (-2147483648 to 2147483647).", "topics", "create", "orders", "--partitions", "99999999999")]
    [InlineData("brokerctl: --max-delivery-attempts: 'five' is not a whole number.", "topics", "create", "orders", "--max-delivery-attempts", "five")]
    [InlineData("brokerctl: --partition: '0x1' is not a whole number.", "produce", "orders", "v", "--partition", "0x1")]
    [InlineData("brokerctl: --batch: '1e3' is not a whole number.", "produce", "orders", "v", "--batch", "1e3")]
    [InlineData("brokerctl: --max: '3x' is not a whole number.", "consume", "orders", "--max", "3x")]
    [InlineData("brokerctl: --wait-ms: '2s' is not a whole number.", "consume", "orders", "--wait-ms", "2s")]
    [InlineData("brokerctl: --from-offset: 'start' is not a whole number.", "replay", "start", "orders", "--verify", "--from-offset", "start")]
    [InlineData("brokerctl: --rate: 'fast' is not a whole number.", "replay", "start", "orders", "--verify", "--rate", "fast")]
    [InlineData("brokerctl: --records: '10k' is not a whole number.", "bench", "--records", "10k")]
    public async Task Is_refused_naming_the_option(string line, params string[] arguments)
    {
        var result = await BrokerctlProcess.RunAsync(s_nowhere, arguments);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(line, result.Error.TrimEnd());
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task A_negative_whole_number_is_one()
    {
        // -1 is "forever" for --retention-ms: read as the number, the call is made (and finds nothing there).
        var result = await BrokerctlProcess.RunAsync(s_nowhere, "topics", "create", "orders", "--retention-ms", "-1");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith("brokerctl: Cannot reach Storage at http://127.0.0.1:1/", result.Error, StringComparison.Ordinal);
    }
}
