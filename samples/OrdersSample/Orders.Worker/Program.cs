using Orders;
using Orders.Worker;

// A worker that consumes from the broker with Broker.Client: OrdersConsumer joins the group "orders-worker" on the
// topic "orders" (the broker found in ConnectionStrings:broker), logs each order and acks it. A web app only so that
// GET /received shows what it got.
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddHealthChecks();
builder.AddBrokerClient("broker");
builder.Services.AddSingleton<ReceivedOrders>();
builder.Services.AddHostedService<OrdersConsumer>();

var app = builder.Build();
app.MapHealthChecks("/health");
app.MapGet("/received", (ReceivedOrders received) => received.Snapshot());
app.Run();
