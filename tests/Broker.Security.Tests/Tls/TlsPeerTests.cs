extern alias ingest;
extern alias storage;

using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// One service calling another over TLS: validation is on (a service with no Tls:CaCertificate refuses a peer whose
/// certificate is of the test CA), and mutual TLS where an endpoint requires client certificates (a service with
/// Tls:ClientCertificate gets through, a client without one does not, and the service key is still needed).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class TlsPeerTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private readonly List<TlsService> _services = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _services.Count - 1; i >= 0; i--)
        {
            await _services[i].DisposeAsync();
        }
        _certificates.Dispose();
    }

    private static Dictionary<string, string> Keys() => new()
    {
        ["Auth:Keys:admin"] = SecureBroker.AdminKey,
        ["Auth:Superusers:0"] = "admin",
        ["Auth:ServiceKey"] = SecureBroker.ServiceKey,
    };

    private TlsService Storage(Dictionary<string, string> settings, string prefix)
    {
        settings["ConnectionStrings:redis"] = redis.ConnectionString;
        settings["Storage:KeyPrefix"] = prefix.TrimEnd(':');
        settings["Storage:HotTier"] = "redis";
        settings["Storage:Segments:Store"] = "none";
        var service = TlsService.Start<storage::Program>(_certificates, settings);
        _services.Add(service);
        return service;
    }

    /// <summary>Ingest (plain HTTP itself) calling <paramref name="storage"/>'s gRPC endpoint with the given settings.</summary>
    private TlsService Ingest(TlsService storage, Dictionary<string, string> settings)
    {
        settings["Ingest:StorageAddress"] = storage.Grpc.ToString();
        settings["Ingest:SchemaRegistryAddress"] = "http://127.0.0.1:9"; // not called: no schema in these tests
        settings["Ingest:AppendAttempts"] = "2";
        var service = TlsService.Start<ingest::Program>(null, settings);
        _services.Add(service);
        return service;
    }

    private async Task CreateTopicAsync(TlsService storage, string topic, bool presentClientCertificate = false)
    {
        using var admin = SecureBroker.Http(storage.Rest, SecureBroker.AdminKey, _certificates.TrustingHandler(presentClientCertificate));
        using var created = await admin.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions = 1 });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> ProduceAsync(TlsService ingest, string topic)
    {
        using var http = SecureBroker.Http(ingest.Rest, SecureBroker.AdminKey);
        return await http.PostAsJsonAsync($"/v1/topics/{topic}/records", new { records = new[] { new { value = "x" } } });
    }

    [Fact]
    public async Task A_service_without_tls_ca_certificate_refuses_a_storage_whose_certificate_is_of_the_private_ca()
    {
        // No authentication here (loopback only): what is left to fail is the certificate check.
        var storage = Storage([], redis.NewPrefix("tls-peer"));
        await CreateTopicAsync(storage, "peers");

        var trusting = Ingest(storage, new() { ["Tls:CaCertificate"] = _certificates.CaFile });
        using (var produced = await ProduceAsync(trusting, "peers"))
        {
            Assert.True(produced.StatusCode == HttpStatusCode.OK, await produced.Content.ReadAsStringAsync());
        }

        var untrusting = Ingest(storage, []);
        using (var refused = await ProduceAsync(untrusting, "peers"))
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{refused.StatusCode}: {body}");
            // ... because the handshake failed on the certificate's chain, not for any other reason.
            Assert.Contains("The remote certificate is invalid because of errors in the certificate chain", body, StringComparison.Ordinal);
        }
        using var health = SecureBroker.Http(untrusting.Rest, null);
        using var ready = await health.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task With_client_certificates_required_a_service_presenting_tls_client_certificate_gets_through_and_others_do_not()
    {
        var storageSettings = Keys();
        storageSettings["Kestrel:Endpoints:Http:ClientCertificateMode"] = "RequireCertificate";
        storageSettings["Kestrel:Endpoints:Grpc:ClientCertificateMode"] = "RequireCertificate";
        storageSettings["Tls:CaCertificate"] = _certificates.CaFile; // client certificates are checked against it
        var storage = Storage(storageSettings, redis.NewPrefix("tls-mtls"));
        await CreateTopicAsync(storage, "mutual", presentClientCertificate: true);

        // A service with the client certificate: its appends and its ACL watch get through, with the service key.
        var withCertificate = Keys();
        withCertificate["Tls:CaCertificate"] = _certificates.CaFile;
        withCertificate["Tls:ClientCertificate:Path"] = _certificates.ClientCertificateFile;
        withCertificate["Tls:ClientCertificate:KeyPath"] = _certificates.ClientKeyFile;
        var ingest = Ingest(storage, withCertificate);
        using (var produced = await ProduceAsync(ingest, "mutual"))
        {
            Assert.True(produced.StatusCode == HttpStatusCode.OK, await produced.Content.ReadAsStringAsync());
        }

        // One that trusts the CA but has no client certificate is refused.
        var withoutCertificate = Keys();
        withoutCertificate["Tls:CaCertificate"] = _certificates.CaFile;
        var refusedIngest = Ingest(storage, withoutCertificate);
        using (var refused = await ProduceAsync(refusedIngest, "mutual"))
        {
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{refused.StatusCode}: {await refused.Content.ReadAsStringAsync()}");
        }

        // So is a client without one, over REST and gRPC, whatever its key.
        using (var keyed = SecureBroker.Http(storage.Rest, SecureBroker.AdminKey, _certificates.TrustingHandler()))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => keyed.GetAsync("/v1/topics"));
        }
        using (var channel = SecureBroker.Channel(storage.Grpc, SecureBroker.ServiceKey, _certificates.TrustingHandler()))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() =>
                new LogService.LogServiceClient(channel).DescribeTopicAsync(new DescribeTopicRequest { Topic = "mutual" }).ResponseAsync);
            Assert.NotEqual(StatusCode.OK, refused.StatusCode);
        }
        // The certificate is not a credential: with one and no key, 401 / UNAUTHENTICATED.
        using (var certified = SecureBroker.Http(storage.Rest, null, _certificates.TrustingHandler(presentClientCertificate: true)))
        using (var unauthenticated = await certified.GetAsync("/v1/topics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        }
        using (var channel = SecureBroker.Channel(storage.Grpc, null, _certificates.TrustingHandler(presentClientCertificate: true)))
        {
            var unauthenticated = await Assert.ThrowsAsync<RpcException>(() =>
                new LogService.LogServiceClient(channel).DescribeTopicAsync(new DescribeTopicRequest { Topic = "mutual" }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, unauthenticated.StatusCode);
        }
        using (var channel = SecureBroker.Channel(storage.Grpc, SecureBroker.ServiceKey, _certificates.TrustingHandler(presentClientCertificate: true)))
        {
            var described = await new LogService.LogServiceClient(channel).DescribeTopicAsync(new DescribeTopicRequest { Topic = "mutual" });
            Assert.Equal(1, described.Partitions[0].EndOffset);
        }
    }
}
