using System.Net;

namespace Orders.Api;

/// <summary>
/// Makes the topic <c>orders</c> when the API starts, if it is missing: <c>GET /v1/topics/orders</c> on Storage, then
/// <c>PUT /v1/topics/orders</c> with <c>{"partitions":4}</c>. A topic that exists is left as it is (a PUT would change it).
/// </summary>
public sealed class OrdersTopic(IHttpClientFactory clients, ILogger<OrdersTopic> logger) : IHostedService
{
    public const string Name = "orders";
    public const int Partitions = 4;
    public const string StorageClient = "storage";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var storage = clients.CreateClient(StorageClient);
        using var found = await storage.GetAsync($"/v1/topics/{Name}", cancellationToken);
        if (found.IsSuccessStatusCode)
        {
            Log.TopicExists(logger, Name);
            return;
        }
        if (found.StatusCode != HttpStatusCode.NotFound)
        {
            throw await BrokerRefusedException.FromAsync(found, cancellationToken);
        }
        using var created = await storage.PutAsJsonAsync($"/v1/topics/{Name}", new { partitions = Partitions }, cancellationToken);
        if (!created.IsSuccessStatusCode)
        {
            throw await BrokerRefusedException.FromAsync(created, cancellationToken);
        }
        Log.TopicCreated(logger, Name, Partitions);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
