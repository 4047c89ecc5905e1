using Broker.Client.Aspire;
using Broker.Client.Consuming;
using Broker.Client.Serialization;

namespace Orders.Worker;

/// <summary>
/// Consumes the topic <c>orders</c> as the group <c>orders-worker</c> with Broker.Client's consumer, at least once: the
/// handler below runs for each order; the consumer acks it when the handler returns and nacks it when it throws (a
/// nacked order comes again later, and goes to <c>orders.dlq</c> after the topic's delivery attempts). A record that is
/// not an order is nacked by the consumer itself. Stopping the worker leaves the group: its partitions go to the others.
/// </summary>
public sealed class OrdersConsumer(BrokerClientFactory broker, ReceivedOrders received, ILogger<OrdersConsumer> logger) : BackgroundService
{
    public const string Group = "orders-worker";
    public const string Topic = "orders";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await using var consumer = broker.Subscribe(Group, [Topic], valueDeserializer: Deserializers.Json(OrdersJson.Default.Order), keyDeserializer: Deserializers.Utf8);
            try
            {
                await consumer.RunAsync((message, _) =>
                {
                    // Nacked when it is JSON but no order: after the topic's attempts it waits in orders.dlq.
                    var order = message.Value is { Id.Length: > 0, Customer: not null } valid ? valid : throw new InvalidDataException("not an order");
                    received.Add(order);
                    Log.OrderReceived(logger, order.Id, order.Customer, order.Total, message.Partition, message.Offset, message.Attempt);
                    return ValueTask.CompletedTask;
                }, concurrency: 4, stoppingToken);
            }
            catch (ConsumeException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
            {
                // The topic is not there yet: the API makes it when it starts.
                Log.NoTopic(logger, Topic);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
