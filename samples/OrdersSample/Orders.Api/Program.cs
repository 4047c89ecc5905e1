using Broker.Client.Serialization;
using Orders;
using Orders.Api;

// A web API that produces to the broker with Broker.Client. All it knows of the broker is ConnectionStrings:broker,
// which the AppHost's WithReference(broker) sets; AddBrokerProducer reads it (and adds a health check, the client's
// spans and metrics).
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddHealthChecks();
// One idempotent producer for the app: a batch it sends again after a failure is written once, in order.
builder.AddBrokerProducer("broker", valueSerializer: Serializers.Json(OrdersJson.Default.Order), keySerializer: Serializers.Utf8);
builder.Services.AddHostedService<OrdersTopic>();

var app = builder.Build();
app.UseExceptionHandler();
app.MapHealthChecks("/health");
app.MapOrdersApi();
app.Run();
