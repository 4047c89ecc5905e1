extern alias storage;

using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using StackExchange.Redis;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// Storage on a redis-server that serves TLS only (its certificate of the test CA): with ssl=true in the connection
/// string and Tls:CaCertificate it keeps its log there; without the CA setting it cannot connect (and so does not start).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTlsTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private RedisServerProcess _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServerProcess.StartAsync(CancellationToken.None, _certificates.ForRedis);

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        _certificates.Dispose();
    }

    private Dictionary<string, string> StorageSettings() => new()
    {
        // The name checked is localhost (sslHost), which the server's certificate names.
        ["ConnectionStrings:redis"] = $"127.0.0.1:{_redis.Port},ssl=true,sslHost=localhost",
        ["Storage:KeyPrefix"] = "tls",
        ["Storage:HotTier"] = "redis",
        ["Storage:Segments:Store"] = "none",
        ["Broker:Redis:ConnectTimeoutMs"] = "2000",
        ["Broker:Redis:CommandTimeoutMs"] = "2000",
    };

    [Fact]
    public async Task Storage_keeps_its_log_in_a_tls_redis_trusting_tls_ca_certificate_and_cannot_connect_without_it()
    {
        var trusting = StorageSettings();
        trusting["Tls:CaCertificate"] = _certificates.CaFile;
        await using (var storage = TlsService.Start<storage::Program>(null, trusting))
        {
            using var http = SecureBroker.Http(storage.Rest, null);
            using (var ready = await http.GetAsync("/health"))
            {
                Assert.True(ready.StatusCode == HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());
            }
            using (var created = await http.PutAsJsonAsync("/v1/topics/secrets", new { partitions = 1 }))
            {
                Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
            }
            using var channel = SecureBroker.Channel(storage.Grpc, null);
            var log = new LogService.LogServiceClient(channel);
            using var builder = new RecordBatchBuilder();
            builder.Add("over tls"u8, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var appended = await log.AppendAsync(new AppendRequest { Topic = "secrets", Partition = 0, Batch = ByteString.CopyFrom(builder.Build()) });
            Assert.Equal(0, appended.BaseOffset);
            var read = await log.ReadAsync(new ReadRequest { Topic = "secrets", Partition = 0, Offset = 0, MaxBytes = 1 << 20 });
            var values = new List<string>();
            foreach (var record in RecordBatch.Validate(Assert.Single(read.Batches).Memory).GetRecords())
            {
                values.Add(System.Text.Encoding.UTF8.GetString(record.Value.Span));
            }
            Assert.Equal(["over tls"], values);
        }

        // The same without the CA: the server's certificate is not trusted, so there is no connection, and Storage,
        // which subscribes to Redis as it starts, does not start.
        // Its connection attempts fail the handshake (then the reconnects fail as they may) until the start gives up:
        // the same settings as above but the CA, so the CA is what made the difference.
        var refused = Assert.ThrowsAny<Exception>(() => TlsService.Start<storage::Program>(null, StorageSettings()));
        Assert.True(TlsBrokerTests.Inner<RedisConnectionException>(refused) is not null, refused.ToString());
        Assert.Contains($"127.0.0.1:{_redis.Port}", refused.Message, StringComparison.Ordinal);
    }
}
