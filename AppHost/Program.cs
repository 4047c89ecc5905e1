using Broker.AppHost;
using Microsoft.Extensions.Configuration;

// The whole broker with one command: `dotnet run --project AppHost`. Settings: AppHost/appsettings.json, AppHost__*
// variables or --AppHost:Key=value arguments; each is described in the README ("Running it").
var builder = DistributedApplication.CreateBuilder(args);
var settings = builder.Configuration.GetSection("AppHost");
ConsoleProgress.Report(builder);

builder.AddBroker("broker", broker =>
{
    broker.DataDirectory = settings["DataDirectory"] is { Length: > 0 } data ? data : broker.DataDirectory;
    broker.Replicas = settings.GetValue("Replicas", 1);
    broker.DaprComponent = settings.GetValue("DaprComponent", false);
    if (settings.GetValue("Auth", false))
    {
        // Parameters:broker-admin-key if given; else made once and kept in AppHost's user secrets. The dashboard shows it.
        broker.AdminKey = builder.AddParameter("broker-admin-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
    }
    switch (settings["Redis:Mode"] ?? "executable")
    {
        case "executable":
            break; // redis-server from PATH; without one, the services' stand-ins (the broker resource's log says so)
        case "container":
            broker.Redis = builder.AddRedis("redis").WithPersistence(TimeSpan.FromSeconds(1));
            break;
        case "external":
            broker.Redis = builder.AddConnectionString("redis"); // the secret parameter ConnectionStrings:redis
            break;
        case "none":
            broker.WithoutRedis = true;
            break;
        case var mode:
            throw new DistributedApplicationException($"AppHost:Redis:Mode is '{mode}': it takes executable, container, external or none.");
    }
    if (settings["S3:Bucket"] is { Length: > 0 } bucket)
    {
        broker.S3 = settings.GetValue("S3:Local", false)
            ? new BrokerS3Options { Bucket = bucket, RunS3rver = true }
            : new BrokerS3Options
            {
                Bucket = bucket,
                ServiceUrl = settings["S3:ServiceUrl"] is { Length: > 0 } url ? url : null,
                Region = settings["S3:Region"] is { Length: > 0 } region ? region : null,
                ForcePathStyle = settings.GetValue("S3:ForcePathStyle", false),
                AccessKey = builder.AddParameter("s3-access-key", secret: true),
                SecretKey = builder.AddParameter("s3-secret-key", secret: true),
            };
    }
});

builder.Build().Run();
