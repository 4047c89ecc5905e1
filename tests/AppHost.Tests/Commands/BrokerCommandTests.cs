#pragma warning disable ASPIREINTERACTION001 // Command arguments are inputs, experimental in Aspire 13.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests.Commands;

/// <summary>
/// The broker resource's commands, run the way the CLI and an MCP client run them (ResourceCommandService with named
/// arguments), against an AppHost with AppHost:Auth on: every API wants a credential, the commands act as admin.
/// </summary>
public sealed class BrokerCommandTests
{
    [Fact]
    public async Task With_an_admin_key_every_API_wants_a_credential_and_the_commands_create_and_verify_a_topic_as_admin()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var cancel = timeout.Token;
        var adminKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        await using var host = await BrokerApp.StartAsync(["--AppHost:Auth=true", $"--Parameters:broker-admin-key={adminKey}"]);
        Assert.Contains(await host.LogsOfAsync("broker", TimeSpan.FromSeconds(2)), l => l.Contains("Auth: every service requires a credential", StringComparison.Ordinal));

        using var anonymous = new HttpClient();
        foreach (var (service, path) in new[] { ("storage", "/v1/topics"), ("ingest", "/v1/topics/any/records"), ("delivery", "/v1/replays"), ("schemaregistry", "/subjects") })
        {
            using var refused = await anonymous.GetAsync(new Uri(host.Http(service), path));
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{service} {path} answered {(int)refused.StatusCode} without a credential");
        }
        using var admin = new HttpClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);

        var commands = host.App.Services.GetRequiredService<ResourceCommandService>();
        var created = await commands.ExecuteCommandAsync("broker", "create-topic", Arguments(("topic", "audited"), ("partitions", "2")), cancel);
        Assert.True(created.Success, created.Message);
        Assert.Equal("Topic audited has 2 partitions.", created.Message);
        var topic = await admin.GetFromJsonAsync<JsonElement>(new Uri(host.Http("storage"), "/v1/topics/audited"), cancel);
        Assert.Equal(2, topic.GetProperty("partitions").GetInt32());

        // Arguments a person mistyped: the dialog's field says so and nothing is sent; Storage's refusal is the command's error.
        var notANumber = await commands.ExecuteCommandAsync("broker", "create-topic", Arguments(("topic", "other"), ("partitions", "two")), cancel);
        Assert.False(notANumber.Success);
        // (The field's own message, "Partitions: 'two' is not a whole number.", is what the dashboard's dialog shows beside it.)
        Assert.Equal("Command argument validation failed.", notANumber.Message);
        var badName = await commands.ExecuteCommandAsync("broker", "create-topic", Arguments(("topic", "bad:name"), ("partitions", "1")), cancel);
        Assert.False(badName.Success);
        Assert.StartsWith("400: ", badName.Message, StringComparison.Ordinal);
        using var other = await admin.GetAsync(new Uri(host.Http("storage"), "/v1/topics/other"), cancel);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);

        using var produced = await admin.PostAsJsonAsync(new Uri(host.Http("ingest"), "/v1/topics/audited/records"),
            new { records = new[] { new { value = "one" }, new { value = "two" }, new { value = "three" } } }, cancel);
        Assert.True(produced.IsSuccessStatusCode, await produced.Content.ReadAsStringAsync(cancel));

        var verify = await commands.ExecuteCommandAsync("broker", "verify-topic", Arguments(("topic", "audited")), cancel);
        Assert.True(verify.Success, verify.Message);
        var id = verify.Message!.Split(' ')[1];
        var job = default(JsonElement);
        for (var wait = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < wait; await Task.Delay(250, cancel))
        {
            job = await admin.GetFromJsonAsync<JsonElement>(new Uri(host.Http("delivery"), $"/v1/replays/{id}"), cancel);
            if (job.GetProperty("state").GetString() is "completed" or "failed" or "cancelled")
            {
                break;
            }
        }
        Assert.Equal("completed", job.GetProperty("state").GetString());
        Assert.Equal(3, job.GetProperty("recordsDone").GetInt64());

        // brokerctl with the admin key as BROKER_TOKEN; without one it is told what is missing.
        Assert.Contains("audited", await Brokerctl.SucceedAsync(host, null, "topics", "list", "--token", adminKey), StringComparison.Ordinal);
        var refusedCli = await Brokerctl.RunAsync(host, null, "topics", "list");
        Assert.NotEqual(0, refusedCli.ExitCode);
        Assert.Contains("not authenticated", refusedCli.Error, StringComparison.Ordinal);
    }

    private static InteractionInputCollection Arguments(params (string Name, string Value)[] values) =>
        new([.. values.Select(v => new InteractionInput { Name = v.Name, InputType = InputType.Text, Value = v.Value })]);
}
