using Broker.Client.Admin;
using Broker.Client.Aspire;
using Broker.Client.Producing;
using Broker.Client.Tests.Hosting;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Broker.Client.Tests.Aspire;

/// <summary>The Aspire client integration in an app's DI: the connection string WithReference writes, a health check, keyed clients.</summary>
[Collection(RedisCollection.Name)]
public sealed class AddBrokerClientTests(RedisFixture redis)
{
    [Fact]
    public async Task The_connection_string_becomes_a_producer_an_admin_client_and_a_healthy_check()
    {
        await using var broker = LiveBroker.Start(redis);
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:broker"] = broker.ConnectionString;
        builder.AddBrokerProducer<string, string>("broker");
        await using var app = builder.Build();

        await app.Services.GetRequiredService<BrokerAdminClient>().CreateTopicAsync("di", new TopicSettings { Partitions = 1 });
        var produced = await app.Services.GetRequiredService<BrokerProducer<string, string>>().ProduceAsync("di", "k", "v");
        Assert.Equal(0, produced.Offset);
        Assert.Same(app.Services.GetRequiredService<BrokerClientFactory>().Admin, app.Services.GetRequiredService<BrokerAdminClient>());

        var health = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Entries["broker"].Status);
    }

    [Fact]
    public async Task Keyed_clients_name_two_brokers_and_an_unreachable_one_is_unhealthy()
    {
        await using var broker = LiveBroker.Start(redis);
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:main"] = broker.ConnectionString;
        builder.Configuration["Broker:Client:gone:ConnectionString"] = "Storage=http://127.0.0.1:1;IngestGrpc=http://127.0.0.1:1";
        builder.AddKeyedBrokerClient("main");
        builder.AddKeyedBrokerClient("gone", settings => settings.DisableTracing = true);
        await using var app = builder.Build();

        Assert.Equal(broker.StorageHttp, app.Services.GetRequiredKeyedService<BrokerClientFactory>("main").Options.Storage);
        var health = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Entries["broker_main"].Status);
        Assert.Equal(HealthStatus.Unhealthy, health.Entries["broker_gone"].Status);
        Assert.Contains("127.0.0.1:1", health.Entries["broker_gone"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_connection_string_the_app_is_told_how_to_give_one()
    {
        var builder = WebApplication.CreateBuilder();
        var missing = Assert.Throws<InvalidOperationException>(() => builder.AddBrokerClient("broker"));
        Assert.Contains("ConnectionStrings:broker", missing.Message, StringComparison.Ordinal);
    }
}
