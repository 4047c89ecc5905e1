using Microsoft.Extensions.Configuration;

// The orders sample: the broker (AddBroker, from Broker.Hosting), an API that produces, a worker that consumes and a
// Dapr app the broker delivers to without a sidecar. Run: dotnet run --project samples/OrdersSample/Orders.AppHost.
var builder = DistributedApplication.CreateBuilder(args);

// A broker that runs elsewhere when its connection string is given (ConnectionStrings:broker, e.g. through
// `dotnet user-secrets set ConnectionStrings:broker "Storage=…;Ingest=…;…"`); else this app runs its own.
var broker = builder.Configuration.GetConnectionString("broker") is { Length: > 0 }
    ? builder.AddBrokerConnection("broker")
    : builder.AddBroker("broker", options =>
    {
        // Ports Aspire chooses, so that the sample runs beside the repository's AppHost (which has 5100-5301 and 8081).
        options.FixedPorts = false;
        // Redis's AOF, the segments and the registry's files, relative to the broker's source folder (or absolute).
        options.DataDirectory = builder.Configuration["OrdersSample:DataDirectory"] is { Length: > 0 } data ? data : ".data/orders-sample";
    });

// WithReference(broker) gives each app ConnectionStrings__broker (Storage=…;Ingest=…;Delivery=…;…); WaitFor(broker)
// starts it once every broker service is healthy.
builder.AddProject<Projects.Orders_Api>("orders-api")
    .WithReference(broker).WaitFor(broker)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Orders_Worker>("orders-worker")
    .WithReference(broker).WaitFor(broker)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Orders_DaprApp>("orders-dapr")
    .WithReference(broker).WaitFor(broker)
    .WithHttpHealthCheck("/health");

builder.Build().Run();
