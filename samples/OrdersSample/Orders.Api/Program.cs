using Orders;
using Orders.Api;

// A web API that produces to the broker. All it knows of the broker is ConnectionStrings:broker, which the AppHost's
// WithReference(broker) sets: Storage's endpoint to make the topic, Ingest's to produce.
var builder = WebApplication.CreateBuilder(args);
var broker = BrokerConnection.FromConfiguration(builder.Configuration);

builder.Services.AddProblemDetails();
builder.Services.AddHealthChecks();
// Retries are safe: each produce carries an Idempotency-Key, so Ingest writes a retried request once.
builder.Services.AddHttpClient<OrdersProducer>(client => client.BaseAddress = broker.Ingest).AddStandardResilienceHandler();
builder.Services.AddHttpClient(OrdersTopic.StorageClient, client => client.BaseAddress = broker.Storage).AddStandardResilienceHandler();
builder.Services.AddHostedService<OrdersTopic>();

var app = builder.Build();
app.UseExceptionHandler();
app.MapHealthChecks("/health");
app.MapOrdersApi();
app.Run();
