#pragma warning disable ASPIREINTERACTION001 // The dashboard's input dialogs: experimental in Aspire 13.
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

/// <summary>What an operator does often, as dashboard commands: create a topic (on storage), verify a topic's history (on delivery).</summary>
internal static class BrokerCommands
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static void Add(IResourceBuilder<ProjectResource> storage, IResourceBuilder<ProjectResource> delivery)
    {
        var storageHttp = storage.GetEndpoint("http");
        storage.WithCommand("create-topic", "Create topic", async context =>
        {
            var inputs = await PromptAsync(context, "Create topic", "A topic in the broker's log.",
            [
                new InteractionInput { Name = "topic", Label = "Topic", InputType = InputType.Text, Required = true, Placeholder = "orders" },
                new InteractionInput { Name = "partitions", Label = "Partitions", InputType = InputType.Number, Required = true, Value = "3" },
            ]);
            if (inputs is null)
            {
                return CommandResults.Canceled();
            }
            if (!int.TryParse(inputs["partitions"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var partitions))
            {
                return CommandResults.Failure($"Partitions: '{inputs["partitions"].Value}' is not a whole number.");
            }
            var topic = inputs["topic"].Value ?? "";
            using var response = await s_http.PutAsJsonAsync(new Uri(new Uri(storageHttp.Url), $"/v1/topics/{Uri.EscapeDataString(topic)}"),
                new { partitions }, context.CancellationToken);
            return await ResultAsync(response, $"Topic {topic} has {partitions} partitions.", context.CancellationToken);
        }, new CommandOptions
        {
            Description = "Creates a topic (PUT /v1/topics/{topic} on Storage).",
            IconName = "AddSquare",
            UpdateState = Healthy,
        });

        var deliveryHttp = delivery.GetEndpoint("http");
        delivery.WithCommand("verify-topic", "Verify a topic", async context =>
        {
            var inputs = await PromptAsync(context, "Verify a topic", "A replay job that reads every record of the topic, hot and cold, checks each and delivers nothing.",
            [
                new InteractionInput { Name = "topic", Label = "Topic", InputType = InputType.Text, Required = true, Placeholder = "orders" },
            ]);
            if (inputs is null)
            {
                return CommandResults.Canceled();
            }
            var topic = inputs["topic"].Value ?? "";
            using var response = await s_http.PostAsJsonAsync(new Uri(new Uri(deliveryHttp.Url), "/v1/replays"),
                new { topic, target = new { verify = true } }, context.CancellationToken);
            var job = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>(context.CancellationToken) : default;
            var id = job.ValueKind == JsonValueKind.Object && job.TryGetProperty("id", out var value) ? value.GetString() : null;
            return await ResultAsync(response, $"Replay {id} verifies {topic}: see GET /v1/replays/{id} or `brokerctl replay status {id}`.", context.CancellationToken);
        }, new CommandOptions
        {
            Description = "Starts a replay job with a verify target over the whole topic (POST /v1/replays on Delivery).",
            IconName = "CheckmarkCircle",
            UpdateState = Healthy,
        });
    }

    private static ResourceCommandState Healthy(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy ? ResourceCommandState.Enabled : ResourceCommandState.Disabled;

    private static async Task<InteractionInputCollection?> PromptAsync(ExecuteCommandContext context, string title, string message, IReadOnlyList<InteractionInput> inputs)
    {
        var interactions = context.Services.GetRequiredService<IInteractionService>();
        if (!interactions.IsAvailable)
        {
            return null;
        }
        var result = await interactions.PromptInputsAsync(title, message, inputs, cancellationToken: context.CancellationToken);
        return result.Canceled ? null : result.Data;
    }

    private static async Task<ExecuteCommandResult> ResultAsync(HttpResponseMessage response, string success, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return CommandResults.Success(success);
        }
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var detail = body;
        try
        {
            using var problem = JsonDocument.Parse(body);
            if (problem.RootElement.TryGetProperty("detail", out var d) && d.GetString() is { Length: > 0 } text)
            {
                detail = text;
            }
        }
        catch (JsonException)
        {
            // Not problem details: the body as it is.
        }
        return CommandResults.Failure($"{(int)response.StatusCode}: {detail}");
    }
}
