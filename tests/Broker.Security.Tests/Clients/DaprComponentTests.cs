extern alias component;

using Broker.Contracts.Dapr;
using Broker.Contracts.Dapr.Components;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Security.Tests.Clients;

/// <summary>
/// The pluggable component as daprd loads it, its YAML's metadata naming a <c>token</c>: it publishes and pulls as
/// that principal, held to its ACLs; without a token it is nobody. daprd itself reaches the component over its Unix
/// socket, which the file system guards, with no credential (as daprd sends none to components).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class DaprComponentTests(RedisFixture redis) : IAsyncLifetime
{
    private SecureBroker _broker = null!;
    private WebApplicationFactory<component::Program> _host = null!;
    private GrpcChannel _socket = null!;
    private string _folder = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("component"));
        _folder = Path.Combine(Path.GetTempPath(), "secure-sockets-" + Guid.NewGuid().ToString("N")[..8]);
        _host = new WebApplicationFactory<component::Program>().WithWebHostBuilder(web => web.UseSetting("DaprComponent:SocketsFolder", _folder));
        _host.UseKestrel();
        _host.StartServer();
        _socket = ComponentSocket.Connect(Path.Combine(_folder, "broker.sock"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _socket.Dispose();
        await _host.DisposeAsync();
        await _broker.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task The_component_publishes_and_pulls_as_the_principal_its_token_names()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsync("/v1/topics/comp-orders", System.Net.Http.Json.JsonContent.Create(new { partitions = 1 }))).EnsureSuccessStatusCode();
        var pubsub = new PubSub.PubSubClient(_socket);
        await InitAsync(pubsub, "with-token", SecureBroker.AliceKey);
        await InitAsync(pubsub, "without-token", null);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await PublishAsync(pubsub, "with-token"));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("Principal 'alice' may not write topic 'comp-orders'", refused.Status.Detail, StringComparison.Ordinal);
        var nobody = await Assert.ThrowsAsync<RpcException>(async () => await PublishAsync(pubsub, "without-token"));
        Assert.Equal(StatusCode.Unauthenticated, nobody.StatusCode);

        await _broker.GrantAsync("alice", "topic", "comp-orders", "write", "read");
        await _broker.GrantAsync("alice", "group", "orders-app", "read");
        await PublishAsync(pubsub, "with-token");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var pull = pubsub.PullMessages(ComponentCall("with-token", timeout.Token));
        await pull.RequestStream.WriteAsync(new PullMessagesRequest { Topic = new Topic { Name = "comp-orders" } });
        Assert.True(await pull.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal("comp-orders", pull.ResponseStream.Current.TopicName);
        Assert.Contains("\"id\":7", pull.ResponseStream.Current.Data.ToStringUtf8(), StringComparison.Ordinal);
        await pull.RequestStream.WriteAsync(new PullMessagesRequest { AckMessageId = pull.ResponseStream.Current.Id });
    }

    private async Task InitAsync(PubSub.PubSubClient pubsub, string instance, string? token)
    {
        var init = new PubSubInitRequest { Metadata = new MetadataRequest() };
        init.Metadata.Properties["consumerID"] = "orders-app";
        init.Metadata.Properties["ingestAddress"] = _broker.IngestGrpc.ToString();
        init.Metadata.Properties["deliveryAddress"] = _broker.DeliveryGrpc.ToString();
        if (token is not null)
        {
            init.Metadata.Properties["token"] = token;
        }
        await pubsub.InitAsync(init, ComponentCall(instance));
    }

    private static async Task PublishAsync(PubSub.PubSubClient pubsub, string instance) =>
        await pubsub.PublishAsync(new PublishRequest
        {
            PubsubName = instance,
            Topic = "comp-orders",
            Data = ByteString.CopyFromUtf8("""{"id":7}"""),
            ContentType = "application/json",
        }, ComponentCall(instance));

    private static CallOptions ComponentCall(string instance, CancellationToken cancellationToken = default) =>
        new(new Metadata { { "x-component-instance", instance } }, cancellationToken: cancellationToken);
}
