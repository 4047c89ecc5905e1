using Broker.Dapr.TestApp;
using Dapr;
using Dapr.AspNetCore;
using Dapr.Client;

// A Dapr app as any team writes one with Dapr.AspNetCore, nothing broker-specific: subscriptions by [Topic],
// CloudEvents unwrapped by UseCloudEvents, /dapr/subscribe from MapSubscribeHandler, publishing with DaprClient
// (DAPR_GRPC_ENDPOINT says where the sidecar, here Ingest, listens). What it received is kept for the tests.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDaprClient();
builder.Services.AddSingleton<Received>();
var app = builder.Build();

app.UseCloudEvents();
app.MapSubscribeHandler();

app.MapPost("/orders", [Topic("pubsub", "orders")] (Order order, Received received) =>
{
    received.Add("orders", order.Id);
    return Results.Ok();
});

// RETRY the first delivery of every order: each must come again.
app.MapPost("/flaky", [Topic("pubsub", "flaky")] (Order order, Received received) =>
    received.Add("flaky", order.Id) == 1 ? Results.Json(new { status = "RETRY" }) : Results.Ok());

app.MapPost("/rejects", [Topic("pubsub", "rejects", "rejects-dead", false)] (Order order, Received received) =>
{
    received.Add("rejects", order.Id);
    return Results.Json(new { status = "DROP" });
});

app.MapPost("/missing", [Topic("pubsub", "missing", "missing-dead", false)] (Order order, Received received) =>
{
    received.Add("missing", order.Id);
    return Results.NotFound();
});

// The dead-letter topics are topics like any other: the app reads them back.
app.MapPost("/dead", [Topic("pubsub", "rejects-dead")][Topic("pubsub", "missing-dead")] (Order order, Received received) =>
{
    received.Add("dead", order.Id);
    return Results.Ok();
});

// Routing rules: big orders to their own handler, the rest to the default route.
app.MapPost("/routed/big", [Topic("pubsub", "routed", "event.data.quantity > 100", 1)] (Order order, Received received) =>
{
    received.Add("routed-big", order.Id);
    return Results.Ok();
});
app.MapPost("/routed", [Topic("pubsub", "routed")] (Order order, Received received) =>
{
    received.Add("routed", order.Id);
    return Results.Ok();
});

// Bulk delivery: entries answered one by one; every third asks for a retry the first time.
app.MapPost("/bulk", [Topic("pubsub", "bulk")][BulkSubscribe("bulk", 10, 200)] (BulkSubscribeMessage<BulkMessageModel<Order>> message, Received received) =>
{
    received.AddBatch("bulk", message.Entries.Count);
    var statuses = new List<BulkSubscribeAppResponseEntry>();
    foreach (var entry in message.Entries)
    {
        var id = entry.Event.Data.Id;
        var retry = received.Add("bulk", id) == 1 && id % 3 == 0;
        statuses.Add(new BulkSubscribeAppResponseEntry(entry.EntryId, retry ? BulkSubscribeAppResponseStatus.RETRY : BulkSubscribeAppResponseStatus.SUCCESS));
    }
    return Results.Ok(new BulkSubscribeAppResponse(statuses));
});

app.MapPost("/publish/{topic}", async (string topic, Order[] orders, DaprClient dapr) =>
{
    foreach (var order in orders)
    {
        await dapr.PublishEventAsync("pubsub", topic, order);
    }
    return Results.Accepted();
});

app.MapPost("/publish-bulk/{topic}", async (string topic, Order[] orders, DaprClient dapr) =>
{
    var response = await dapr.BulkPublishEventAsync("pubsub", topic, orders);
    return Results.Ok(new { failed = response.FailedEntries.Count });
});

app.MapGet("/received/{handler}", (string handler, Received received) => received.Of(handler));
app.MapGet("/batches/{handler}", (string handler, Received received) => received.BatchesOf(handler));

app.Run();
