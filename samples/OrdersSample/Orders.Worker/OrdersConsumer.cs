using System.Net;
using System.Text.Json;

namespace Orders.Worker;

/// <summary>
/// Consumes the topic <c>orders</c> as the group <c>orders-worker</c> with Delivery's REST API, at least once:
/// <list type="number">
/// <item><c>POST /v1/groups/orders-worker/topics/orders/poll</c> with <c>{"start":"earliest","waitMs":10000,"maxRecords":100,"consumerId":…}</c>
/// answers the records ready (each with a <c>deliveryId</c>), waiting up to waitMs for the first; the first poll joins
/// the group (a new group starts at the earliest record) and holds some of its partitions.</item>
/// <item>Each order is handled, then <c>POST …/acks</c> with <c>{"ack":[ids],"nack":[{"deliveryId","error"}]}</c> settles them: an
/// acked record is done, a nacked one comes again later and goes to <c>orders.dlq</c> after the topic's delivery attempts.
/// One that is neither acked nor nacked in time (the worker died) comes again too.</item>
/// </list>
/// A consumer that stops polling leaves the group after a minute (Delivery:HttpSessionTimeoutMs); its partitions go to the others.
/// </summary>
public sealed class OrdersConsumer(IHttpClientFactory clients, ReceivedOrders received, IConfiguration configuration, ILogger<OrdersConsumer> logger)
    : BackgroundService
{
    public const string DeliveryClient = "delivery";
    public const string Group = "orders-worker";
    public const string Topic = "orders";
    public const int WaitMs = 10_000;

    private static readonly TimeSpan s_retryDelay = TimeSpan.FromSeconds(1);

    // The member of the group this process polls as: polls with the same id share one member (and its partitions).
    private readonly string _consumerId = configuration["Worker:ConsumerId"] is { Length: > 0 } id ? id : Environment.MachineName;

    private sealed record PollRequest(string Start, int WaitMs, int MaxRecords, string ConsumerId);

    private sealed record PollResponse(string MemberId, IReadOnlyList<PolledRecord> Records);

    private sealed record PolledRecord(int Partition, long Offset, string? Key, JsonElement? Value, string DeliveryId, int Attempt);

    private sealed record Nack(string DeliveryId, string Error);

    private sealed record AckRequest(IReadOnlyList<string> Ack, IReadOnlyList<Nack> Nack);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delivery = clients.CreateClient(DeliveryClient);
        // A poll holds the request open up to WaitMs: the client's timeout must be longer.
        delivery.Timeout = TimeSpan.FromMilliseconds(WaitMs) + TimeSpan.FromSeconds(30);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PollOnceAsync(delivery, stoppingToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                Log.PollFailed(logger, ex.Message);
                await Task.Delay(s_retryDelay, stoppingToken);
            }
        }
    }

    private async Task PollOnceAsync(HttpClient delivery, CancellationToken cancellationToken)
    {
        using var polled = await delivery.PostAsJsonAsync($"/v1/groups/{Group}/topics/{Topic}/poll",
            new PollRequest("earliest", WaitMs, 100, _consumerId), cancellationToken);
        if (polled.StatusCode == HttpStatusCode.NotFound)
        {
            // The topic is not there yet: the API makes it when it starts.
            Log.NoTopic(logger, Topic);
            await Task.Delay(s_retryDelay, cancellationToken);
            return;
        }
        polled.EnsureSuccessStatusCode();
        var records = (await polled.Content.ReadFromJsonAsync<PollResponse>(cancellationToken))?.Records ?? [];
        if (records.Count == 0)
        {
            return;
        }

        var acks = new List<string>();
        var nacks = new List<Nack>();
        foreach (var record in records)
        {
            if (Read(record) is { } order)
            {
                received.Add(order);
                Log.OrderReceived(logger, order.Id, order.Customer, order.Total, record.Partition, record.Offset, record.Attempt);
                acks.Add(record.DeliveryId);
            }
            else
            {
                Log.NotAnOrder(logger, record.Partition, record.Offset);
                nacks.Add(new Nack(record.DeliveryId, "not an order"));
            }
        }
        using var settled = await delivery.PostAsJsonAsync($"/v1/groups/{Group}/topics/{Topic}/acks", new AckRequest(acks, nacks), cancellationToken);
        settled.EnsureSuccessStatusCode();
    }

    private static Order? Read(PolledRecord record)
    {
        try
        {
            return record.Value?.Deserialize<Order>(JsonSerializerOptions.Web) is { Id.Length: > 0, Customer: not null } order ? order : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
