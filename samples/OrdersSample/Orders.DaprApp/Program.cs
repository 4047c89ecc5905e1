using Orders;
using Orders.DaprApp;

// A plain Dapr pub/sub subscriber: UseCloudEvents, MapSubscribeHandler (GET /dapr/subscribe) and a topic route. Nothing
// in it is the broker's but DeliveryRegistration, which tells Delivery where the app listens (what daprd's app port
// would be); Delivery then asks /dapr/subscribe and POSTs each record of "orders" to /orders as a CloudEvent.
var builder = WebApplication.CreateBuilder(args);
var broker = BrokerConnection.FromConfiguration(builder.Configuration);

builder.Services.AddHealthChecks();
builder.Services.AddSingleton<ReceivedOrders>();
builder.Services.AddHttpClient(DeliveryRegistration.DeliveryClient, client => client.BaseAddress = broker.Delivery);
builder.Services.AddHostedService<DeliveryRegistration>();

var app = builder.Build();
app.UseCloudEvents();
app.MapSubscribeHandler();
app.MapHealthChecks("/health");

// "pubsub" is the pub/sub name Delivery answers to (Delivery:Dapr:PubsubName). An answer of 200 acks the event; a
// {"status":"RETRY"} body (or an error) has it delivered again, {"status":"DROP"} sends it to the dead-letter topic.
app.MapPost("/orders", (Order order, ReceivedOrders received, ILogger<Program> logger) =>
{
    received.Add(order);
    Log.OrderReceived(logger, order.Id, order.Customer, order.Total);
    return Results.Ok();
}).WithTopic("pubsub", "orders");

app.MapGet("/received", (ReceivedOrders received) => received.Snapshot());
app.Run();
