using Orders;
using Orders.Worker;

// A worker that consumes from the broker: OrdersConsumer polls Delivery (found in ConnectionStrings:broker) for the
// group "orders-worker", logs each order and acks it. A web app only so that GET /received shows what it got.
var builder = WebApplication.CreateBuilder(args);
var broker = BrokerConnection.FromConfiguration(builder.Configuration);

builder.Services.AddHealthChecks();
builder.Services.AddSingleton<ReceivedOrders>();
// No resilience handler: a poll waits up to OrdersConsumer.WaitMs for records, and the loop retries by itself.
builder.Services.AddHttpClient(OrdersConsumer.DeliveryClient, client => client.BaseAddress = broker.Delivery);
builder.Services.AddHostedService<OrdersConsumer>();

var app = builder.Build();
app.MapHealthChecks("/health");
app.MapGet("/received", (ReceivedOrders received) => received.Snapshot());
app.Run();
