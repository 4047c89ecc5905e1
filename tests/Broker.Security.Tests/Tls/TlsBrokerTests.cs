using System.Net;
using System.Net.Http.Json;
using System.Security.Authentication;
using System.Text.Json;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// The whole broker over TLS: Storage, the registry, Ingest and Delivery each serving only https endpoints (REST on
/// HTTP/1.1, gRPC on HTTP/2) with a certificate of a CA the test made, and calling each other (Storage's log API,
/// the registry, the ACL watches) trusting that CA through Tls:CaCertificate. Clients trust the CA or do not.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class TlsBrokerTests(RedisFixture redis) : IAsyncLifetime
{
    private const string Schema = """{"type":"record","name":"Order","fields":[{"name":"a","type":"int"}]}""";
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private SecureBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("tls"), tls: _certificates);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _certificates.Dispose();
    }

    private IEnumerable<Uri> Endpoints =>
        [_broker.StorageHttp, _broker.StorageGrpc, _broker.IngestHttp, _broker.IngestGrpc, _broker.DeliveryHttp, _broker.DeliveryGrpc, _broker.Registry];

    [Fact]
    public async Task A_client_trusting_the_ca_produces_and_consumes_with_a_key_over_rest_and_grpc_while_the_services_call_each_other_over_tls()
    {
        Assert.All(Endpoints, endpoint => Assert.Equal("https", endpoint.Scheme));
        // Only those: nothing else listens, with or without TLS (the appsettings.json endpoints were replaced, not added to).
        Assert.All(_broker.ListeningAddresses(), address => Assert.StartsWith("https://127.0.0.1:", address, StringComparison.Ordinal));
        Assert.Equal(Endpoints.Count(), _broker.ListeningAddresses().Count());
        using (var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey, _certificates.TrustingHandler()))
        using (var created = await admin.PutAsJsonAsync("/v1/topics/orders", new { partitions = 1 }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        int schemaId;
        using (var registry = SecureBroker.Http(_broker.Registry, SecureBroker.AdminKey, _certificates.TrustingHandler()))
        using (var registered = await registry.PostAsJsonAsync("/subjects/orders-value/versions", new { schema = Schema }))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
            schemaId = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        }
        // Ingest, Delivery and the registry learn the ACLs through their watch of Storage, over TLS.
        await _broker.GrantAsync("alice", "topic", "orders", "write", "read");
        await _broker.GrantAsync("alice", "group", "pollers", "read");
        await _broker.GrantAsync("alice", "group", "streamers", "read");

        // REST: the JSON value is encoded with the registered schema, which Ingest fetches from the registry over TLS,
        // and appended to Storage over gRPC over TLS.
        using (var ingest = SecureBroker.Http(_broker.IngestHttp, SecureBroker.AliceKey, _certificates.TrustingHandler()))
        using (var produced = await ingest.PostAsJsonAsync("/v1/topics/orders/records", new { valueSchemaId = schemaId, records = new[] { new { value = new { a = 1 } } } }))
        {
            Assert.True(produced.StatusCode == HttpStatusCode.OK, await produced.Content.ReadAsStringAsync());
            Assert.Equal(0, (await produced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("offsets")[0].GetProperty("offset").GetInt64());
        }
        // gRPC over TLS (HTTP/2 negotiated with ALPN).
        using (var channel = SecureBroker.Channel(_broker.IngestGrpc, SecureBroker.AliceKey, _certificates.TrustingHandler()))
        {
            using var stream = new ProduceService.ProduceServiceClient(channel).Produce();
            await stream.RequestStream.WriteAsync(new ProduceRequest { RequestId = 1, Topic = "orders", Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("second") } } });
            await stream.RequestStream.CompleteAsync();
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            Assert.True(stream.ResponseStream.Current.StatusCode == 0, stream.ResponseStream.Current.StatusMessage);
            Assert.Equal(1, stream.ResponseStream.Current.Offsets[0].Offset);
        }

        // Poll: Delivery reads Storage over TLS.
        using (var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AliceKey, _certificates.TrustingHandler()))
        {
            var offsets = new List<long>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (offsets.Count < 2 && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                using var polled = await delivery.PostAsJsonAsync("/v1/groups/pollers/topics/orders/poll", new { start = "earliest", waitMs = 2000 });
                Assert.True(polled.StatusCode == HttpStatusCode.OK, await polled.Content.ReadAsStringAsync());
                offsets.AddRange((await polled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("offset").GetInt64()));
            }
            Assert.Equal([0L, 1L], offsets);
        }
        // The gRPC subscribe stream.
        using (var channel = SecureBroker.Channel(_broker.DeliveryGrpc, SecureBroker.AliceKey, _certificates.TrustingHandler()))
        {
            using var stream = new DeliveryService.DeliveryServiceClient(channel).Subscribe();
            await stream.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = "streamers", Topic = "orders", Window = 10 } });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var values = new List<string>();
            while (values.Count < 2 && await stream.ResponseStream.MoveNext(timeout.Token))
            {
                if (stream.ResponseStream.Current.Records is { } records)
                {
                    values.AddRange(records.Records_.Select(r => r.Offset == 1 ? r.Value.ToStringUtf8() : $"avro:{r.Value.Length}"));
                }
            }
            // The first is the Avro encoding (5-byte header, then one zig-zag varint), the second as produced.
            Assert.Equal(["avro:6", "second"], values);
        }
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_ca_fails_the_handshake_and_one_that_does_still_needs_a_key()
    {
        var calls = new (Uri Endpoint, HttpMethod Method, string Path)[]
        {
            (_broker.StorageHttp, HttpMethod.Get, "/v1/topics"),
            (_broker.IngestHttp, HttpMethod.Post, "/v1/topics/orders/records"),
            (_broker.DeliveryHttp, HttpMethod.Get, "/v1/groups/pollers"),
            (_broker.Registry, HttpMethod.Get, "/subjects"),
        };
        foreach (var (endpoint, method, path) in calls)
        {
            // The system's trust only: the handshake fails, before any request is sent.
            using var untrusting = SecureBroker.Http(endpoint, SecureBroker.AdminKey);
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.SendAsync(new HttpRequestMessage(method, path)));
            Assert.True(Inner<AuthenticationException>(refused) is not null, $"{endpoint}: {refused}");

            using var keyless = SecureBroker.Http(endpoint, null, _certificates.TrustingHandler());
            using var unauthenticated = await keyless.SendAsync(new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? JsonContent.Create(new { records = Array.Empty<object>() }) : null });
            Assert.True(unauthenticated.StatusCode == HttpStatusCode.Unauthorized, $"{method} {endpoint}{path.TrimStart('/')}: {unauthenticated.StatusCode}");
        }
        foreach (var endpoint in new[] { _broker.StorageGrpc, _broker.IngestGrpc, _broker.DeliveryGrpc })
        {
            using var untrusting = SecureBroker.Channel(endpoint, SecureBroker.AdminKey);
            var refused = await Assert.ThrowsAsync<RpcException>(() =>
                new LogService.LogServiceClient(untrusting).DescribeTopicAsync(new DescribeTopicRequest { Topic = "none" }).ResponseAsync);
            // grpc-dotnet reports a call that could not start because the handshake failed as INTERNAL ("Error starting gRPC call").
            Assert.True(refused.StatusCode == StatusCode.Internal, $"{endpoint}: {refused}");
            Assert.True(Inner<AuthenticationException>(refused) is not null, $"{endpoint}: {refused}");
        }
        using var keylessChannel = SecureBroker.Channel(_broker.StorageGrpc, null, _certificates.TrustingHandler());
        var noKey = await Assert.ThrowsAsync<RpcException>(() =>
            new LogService.LogServiceClient(keylessChannel).DescribeTopicAsync(new DescribeTopicRequest { Topic = "none" }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, noKey.StatusCode);
    }

    internal static T? Inner<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }
        return null;
    }
}
