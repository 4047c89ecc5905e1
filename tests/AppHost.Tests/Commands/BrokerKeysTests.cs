using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace AppHost.Tests.Commands;

/// <summary>AddBroker's credentials as its services receive them, read from the app model in publish mode (nothing is run).</summary>
public sealed class BrokerKeysTests
{
    [Fact]
    public async Task The_admin_key_and_each_principals_key_reach_every_service_and_the_services_share_a_generated_key_of_their_own()
    {
        var builder = Builder("--Parameters:admin-key=admin-secret-0123456789", "--Parameters:orders-key=orders-secret-0123456789");
        builder.AddBroker("broker", o =>
        {
            o.AdminKey = builder.AddParameter("admin-key", secret: true);
            o.Keys["orders"] = builder.AddParameter("orders-key", secret: true);
            o.DaprComponent = true;
        });
        var serviceKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in builder.Resources.OfType<ProjectResource>())
        {
#pragma warning disable CS0618 // Its successor (ExecutionConfigurationBuilder) needs a running app's context; this reads the model as the manifest does.
            var environment = await service.GetEnvironmentVariableValuesAsync(DistributedApplicationOperation.Publish);
#pragma warning restore CS0618
            Assert.Equal("{admin-key.value}", environment["Auth__Keys__admin"]);
            Assert.Equal("{orders-key.value}", environment["Auth__Keys__orders"]);
            Assert.Equal("admin", environment["Auth__Superusers__0"]);
            serviceKeys.Add(environment["Auth__ServiceKey"]);
        }
        Assert.Equal(["{broker-service-key.value}"], serviceKeys);
        var generated = builder.Resources.OfType<ParameterResource>().Single(p => p.Name == "broker-service-key");
        Assert.True(generated.Secret);
        Assert.True((await generated.GetValueAsync(CancellationToken.None))!.Length >= 32);
    }

    [Fact]
    public void Keys_without_an_admin_key_are_refused()
    {
        var builder = Builder();
        var refused = Assert.Throws<DistributedApplicationException>(() => builder.AddBroker("broker", o => o.Keys["orders"] = builder.AddParameter("orders-key", secret: true)));
        Assert.Contains("without an AdminKey", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>An empty app model, as an AppHost's Program.cs starts.</summary>
    private static IDistributedApplicationBuilder Builder(params string[] arguments) =>
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions { Args = arguments, AssemblyName = "AppHost", DisableDashboard = true });
}
