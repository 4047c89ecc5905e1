using System.Text.Json;

namespace Orders.Api;

/// <summary>
/// Produces orders with Ingest's REST API: <c>POST /v1/topics/orders/records</c> with
/// <c>{"records":[{"key":…,"value":{…},"headers":{…}}]}</c>, answered with <c>{"offsets":[{"partition","offset"}]}</c> once
/// Storage has the records. The customer is the key, so one customer's orders stay in order on one partition.
/// </summary>
public sealed class OrdersProducer(HttpClient ingest)
{
    private sealed record ProduceResponse(IReadOnlyList<RecordOffset> Offsets);

    private sealed record RecordOffset(int Partition, long Offset);

    public async Task<(int Partition, long Offset)> ProduceAsync(Order order, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{OrdersTopic.Name}/records")
        {
            Content = JsonContent.Create(new
            {
                records = new[] { new { key = order.Customer, value = order, headers = new Dictionary<string, string> { ["source"] = "orders-api" } } },
            }),
        };
        // A retry (the resilience handler's, or a client's) with the same key answers the first attempt's offsets.
        request.Headers.Add("Idempotency-Key", order.Id);
        using var response = await ingest.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await BrokerRefusedException.FromAsync(response, cancellationToken);
        }
        var produced = await response.Content.ReadFromJsonAsync<ProduceResponse>(cancellationToken);
        var offset = produced?.Offsets.Single() ?? throw new JsonException("Ingest answered without offsets.");
        return (offset.Partition, offset.Offset);
    }
}

/// <summary>The broker answered with an error: its status and the problem details' <c>detail</c> (or title) it gave.</summary>
public sealed class BrokerRefusedException(string message) : Exception(message)
{
    public static async Task<BrokerRefusedException> FromAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var what = $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}";
        string? detail = null;
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : problem.TryGetProperty("title", out var t) ? t.GetString() : null;
        }
        catch (JsonException)
        {
            // Not problem details: the status says enough.
        }
        return new BrokerRefusedException($"{what} answered {(int)response.StatusCode}{(detail is null ? "" : $": {detail}")}");
    }
}
