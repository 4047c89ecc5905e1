#pragma warning disable ASPIREINTERACTION001 // Command arguments are inputs, an experimental API in Aspire 13.
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// What an operator does often, as commands on the broker resource: create a topic, verify a topic's history. Their
/// arguments are declared, so the dashboard asks for them in a dialog and the CLI or a test passes them. On the broker
/// resource, not on Delivery, because a command on a service with replicas runs once per replica.
/// </summary>
internal static class BrokerCommands
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static void Add(IResourceBuilder<BrokerResource> broker, IResourceBuilder<ProjectResource> storage, IResourceBuilder<ProjectResource> delivery,
        IResourceBuilder<ParameterResource>? adminKey)
    {
        var storageHttp = storage.GetEndpoint("http");
        broker.WithCommand("create-topic", "Create topic", async context =>
        {
            var topic = context.Arguments.GetString("topic") ?? "";
            var partitions = int.Parse(context.Arguments.GetString("partitions") ?? "", NumberStyles.None, CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(new Uri(storageHttp.Url), $"/v1/topics/{Uri.EscapeDataString(topic)}"))
            {
                Content = JsonContent.Create(new { partitions }),
            };
            using var response = await SendAsync(request, adminKey, context.CancellationToken);
            return await ResultAsync(response, _ => $"Topic {topic} has {partitions} partitions.", context.CancellationToken);
        }, new CommandOptions
        {
            Description = "Creates a topic (PUT /v1/topics/{topic} on Storage).",
            IconName = "AddSquare",
            UpdateState = WhenRunning,
            Arguments =
            [
                new InteractionInput { Name = "topic", Label = "Topic", InputType = InputType.Text, Required = true, Placeholder = "orders" },
                new InteractionInput { Name = "partitions", Label = "Partitions", InputType = InputType.Number, Required = true, Value = "3" },
            ],
            ValidateArguments = context =>
            {
                ValidateTopic(context);
                var partitions = context.Inputs["partitions"].Value;
                // The range and the name's rules are Storage's to say: its refusal comes back as the command's error.
                if (!int.TryParse(partitions, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    context.AddValidationError("partitions", $"Partitions: '{partitions}' is not a whole number.");
                }
                return Task.CompletedTask;
            },
        });

        var deliveryHttp = delivery.GetEndpoint("http");
        broker.WithCommand("verify-topic", "Verify a topic", async context =>
        {
            var topic = context.Arguments.GetString("topic") ?? "";
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(deliveryHttp.Url), "/v1/replays"))
            {
                Content = JsonContent.Create(new { topic, target = new { verify = true } }),
            };
            using var response = await SendAsync(request, adminKey, context.CancellationToken);
            return await ResultAsync(response, job =>
            {
                var id = job.ValueKind == JsonValueKind.Object && job.TryGetProperty("id", out var value) ? value.GetString() : null;
                return $"Replay {id} verifies {topic}: GET /v1/replays/{id} on Delivery or `brokerctl replay status {id}` follows it.";
            }, context.CancellationToken);
        }, new CommandOptions
        {
            Description = "Starts a replay job with a verify target over the whole topic, hot and cold (POST /v1/replays on Delivery): it reads and checks every record and delivers nothing.",
            IconName = "CheckmarkCircle",
            UpdateState = WhenRunning,
            Arguments =
            [
                new InteractionInput { Name = "topic", Label = "Topic", InputType = InputType.Text, Required = true, Placeholder = "orders" },
            ],
            ValidateArguments = context =>
            {
                ValidateTopic(context);
                return Task.CompletedTask;
            },
        });
    }

    private static void ValidateTopic(InputsDialogValidationContext context)
    {
        if (string.IsNullOrWhiteSpace(context.Inputs["topic"].Value))
        {
            context.AddValidationError("topic", "Topic: a name is required.");
        }
    }

    private static ResourceCommandState WhenRunning(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.State?.Text == KnownResourceStates.Running ? ResourceCommandState.Enabled : ResourceCommandState.Disabled;

    /// <summary>Sends as the broker's admin when it has keys: the commands are the operator's.</summary>
    private static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, IResourceBuilder<ParameterResource>? adminKey, CancellationToken cancellationToken)
    {
        if (adminKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await adminKey.Resource.GetValueAsync(cancellationToken));
        }
        return await s_http.SendAsync(request, cancellationToken);
    }

    /// <summary>Success with <paramref name="success"/>'s message from the answer's JSON; else the status and the problem's detail.</summary>
    private static async Task<ExecuteCommandResult> ResultAsync(HttpResponseMessage response, Func<JsonElement, string> success, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonElement json = default;
        try
        {
            json = body.Length > 0 ? JsonSerializer.Deserialize<JsonElement>(body) : default;
        }
        catch (JsonException)
        {
            // Not JSON: the body as it is.
        }
        if (response.IsSuccessStatusCode)
        {
            return CommandResults.Success(success(json));
        }
        var detail = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("detail", out var d) && d.GetString() is { Length: > 0 } text ? text : body;
        return CommandResults.Failure($"{(int)response.StatusCode}: {detail}");
    }
}
