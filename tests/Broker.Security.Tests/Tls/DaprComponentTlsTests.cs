extern alias component;

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Dapr;
using Broker.Contracts.Dapr.Components;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// The Dapr pluggable component calling a broker that serves only TLS: its channels to Ingest and Delivery trust the
/// CA its metadata names (caCertificate: a PEM file's path, or the PEM itself as a secretKeyRef would give it); the
/// component host here has no Tls settings, so without caCertificate its publishes fail.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class DaprComponentTlsTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private readonly string _sockets = Path.Combine(Path.GetTempPath(), "dapr-tls-" + Guid.NewGuid().ToString("N")[..8]);
    private SecureBroker _broker = null!;
    private WebApplicationFactory<component::Program> _component = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("dapr-tls"), tls: _certificates);
        _component = new WebApplicationFactory<component::Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("DaprComponent:SocketsFolder", _sockets);
            web.UseSetting("DaprComponent:SocketName", "broker");
        });
        _component.UseKestrel();
        _component.StartServer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _component.DisposeAsync();
        await _broker.DisposeAsync();
        _certificates.Dispose();
        try
        {
            Directory.Delete(_sockets, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static CallOptions For(string instance) => new(new Metadata { { "x-component-instance", instance } });

    private async Task InitAsync(PubSub.PubSubClient pubsub, string instance, string? caCertificate)
    {
        var init = new PubSubInitRequest { Metadata = new MetadataRequest() };
        init.Metadata.Properties["consumerID"] = instance;
        init.Metadata.Properties["ingestAddress"] = _broker.IngestGrpc.ToString();
        init.Metadata.Properties["deliveryAddress"] = _broker.DeliveryGrpc.ToString();
        init.Metadata.Properties["token"] = SecureBroker.AdminKey;
        if (caCertificate is not null)
        {
            init.Metadata.Properties["caCertificate"] = caCertificate;
        }
        await pubsub.InitAsync(init, For(instance));
    }

    [Fact]
    public async Task The_component_publishes_over_tls_trusting_its_ca_certificate_metadata_and_cannot_without_it()
    {
        using (var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey, _certificates.TrustingHandler()))
        using (var created = await admin.PutAsJsonAsync("/v1/topics/events", new { partitions = 1 }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        using var channel = ComponentSocket.Connect(Path.Combine(_sockets, "broker.sock"));
        var pubsub = new PubSub.PubSubClient(channel);

        await InitAsync(pubsub, "by-path", _certificates.CaFile);
        await pubsub.PublishAsync(new PublishRequest { PubsubName = "by-path", Topic = "events", Data = ByteString.CopyFromUtf8("one") }, For("by-path"));
        await InitAsync(pubsub, "by-pem", await File.ReadAllTextAsync(_certificates.CaFile));
        await pubsub.PublishAsync(new PublishRequest { PubsubName = "by-pem", Topic = "events", Data = ByteString.CopyFromUtf8("two") }, For("by-pem"));

        await InitAsync(pubsub, "blind", null);
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await pubsub.PublishAsync(new PublishRequest { PubsubName = "blind", Topic = "events", Data = ByteString.CopyFromUtf8("three") }, For("blind")));
        Assert.NotEqual(StatusCode.OK, refused.StatusCode);
        Assert.Contains("certificate", refused.Status.Detail, StringComparison.OrdinalIgnoreCase);

        var bad = await Assert.ThrowsAsync<RpcException>(() => InitAsync(pubsub, "bad", "/no/such/ca.pem"));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("caCertificate: no file /no/such/ca.pem", bad.Status.Detail, StringComparison.Ordinal);

        // Exactly the two trusted publishes reached the topic.
        using var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey, _certificates.TrustingHandler());
        using var polled = await delivery.PostAsJsonAsync("/v1/groups/readers/topics/events/poll", new { start = "earliest", waitMs = 5000, maxRecords = 10 });
        Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
        var records = (await polled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray()
            .Select(r => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(r.GetProperty("valueBase64").GetString()!))).ToList();
        Assert.Equal(["one", "two"], records);
    }
}
