extern alias storage;

using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using storage::Broker.Storage.Tiering;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// Storage's segment store on an S3-compatible server over https (s3rver with a certificate of the test CA): with
/// Tls:CaCertificate a tiering pass uploads a segment and reads come back from it; without, the upload fails and the
/// records stay hot. Tiering runs when the test says (its timer is set to an hour), with small segments.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class S3TlsTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private S3ServerProcess _s3 = null!;

    public async Task InitializeAsync() => _s3 = await S3ServerProcess.StartNewAsync(_certificates.ForS3);

    public async Task DisposeAsync()
    {
        await _s3.DisposeAsync();
        _certificates.Dispose();
    }

    private Dictionary<string, string> StorageSettings(string prefix) => new()
    {
        ["ConnectionStrings:redis"] = redis.ConnectionString,
        ["Storage:KeyPrefix"] = prefix.TrimEnd(':'),
        ["Storage:HotTier"] = "redis",
        ["Storage:RetentionCheckIntervalSeconds"] = "86400",
        ["Storage:Tiering:IntervalMs"] = "3600000",
        ["Storage:Tiering:HardLimitFactor"] = "1000", // appends go on while the blind Storage cannot tier
        ["Storage:Tiering:SegmentBytes"] = (64 * 1024).ToString(CultureInfo.InvariantCulture),
        ["Storage:Tiering:ChunkBytes"] = (64 * 1024).ToString(CultureInfo.InvariantCulture),
        ["Storage:Segments:Store"] = "s3",
        ["Storage:Segments:Prefix"] = prefix.TrimEnd(':').Replace('.', '-'),
        ["Storage:Segments:MaxRetries"] = "0",
        ["Storage:Segments:TimeoutMs"] = "10000",
        ["Storage:Segments:S3:Bucket"] = S3ServerProcess.Bucket,
        ["Storage:Segments:S3:ServiceUrl"] = _s3.ServiceUrl,
        ["Storage:Segments:S3:ForcePathStyle"] = "true",
        ["Storage:Segments:S3:AccessKey"] = S3ServerProcess.AccessKey,
        ["Storage:Segments:S3:SecretKey"] = S3ServerProcess.SecretKey,
    };

    /// <summary>About 200 KB in 20 batches of ten 1 KB records, over a hot budget of 4 KiB, then tiering until nothing is left to do.</summary>
    private static async Task<(long Tiered, PartitionOffsets State)> FillAndTierAsync(TlsService storage)
    {
        using (var http = SecureBroker.Http(storage.Rest, null))
        using (var created = await http.PutAsJsonAsync("/v1/topics/cold", new { partitions = 1, hotBytes = 4096 }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        using var channel = SecureBroker.Channel(storage.Grpc, null);
        var log = new LogService.LogServiceClient(channel);
        for (var b = 0; b < 20; b++)
        {
            using var builder = new RecordBatchBuilder();
            for (var r = 0; r < 10; r++)
            {
                builder.Add(Encoding.UTF8.GetBytes(Value((b * 10) + r)), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }
            await log.AppendAsync(new AppendRequest { Topic = "cold", Partition = 0, Batch = ByteString.CopyFrom(builder.Build()) });
        }
        var tiering = storage.Services.GetRequiredService<TieringService>();
        long tiered = 0;
        for (int moved; (moved = await tiering.RunOnceAsync(CancellationToken.None)) > 0;)
        {
            tiered += moved;
        }
        var described = await log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "cold" });
        return (tiered, described.Partitions[0]);
    }

    private static string Value(int i) => $"r{i}-" + new string((char)('a' + (i % 26)), 1000);

    [Fact]
    public async Task Storage_tiers_to_s3_over_https_trusting_tls_ca_certificate_and_cannot_upload_without_it()
    {
        var prefix = redis.NewPrefix("s3tls");
        var settings = StorageSettings(prefix);
        settings["Tls:CaCertificate"] = _certificates.CaFile;
        await using (var storage = TlsService.Start<storage::Program>(null, settings))
        {
            var (tiered, state) = await FillAndTierAsync(storage);
            Assert.True(tiered > 0);
            Assert.True(state.ColdBytes > 0, state.ToString());
            Assert.True(state.HotStartOffset > 0, state.ToString());
            Assert.Contains(Directory.EnumerateFiles(_s3.DataDirectory, "*", SearchOption.AllDirectories),
                file => file.Contains(prefix.TrimEnd(':').Replace('.', '-'), StringComparison.Ordinal));

            // Everything reads back, the oldest records from the segments in S3.
            using var channel = SecureBroker.Channel(storage.Grpc, null);
            var log = new LogService.LogServiceClient(channel);
            var values = new List<string>();
            for (long offset = 0; values.Count < 200;)
            {
                var read = await log.ReadAsync(new ReadRequest { Topic = "cold", Partition = 0, Offset = offset, MaxBytes = 64 * 1024 });
                Assert.NotEmpty(read.Batches);
                foreach (var batch in read.Batches)
                {
                    foreach (var record in RecordBatch.Validate(batch.Memory).GetRecords())
                    {
                        values.Add(Encoding.UTF8.GetString(record.Value.Span));
                    }
                }
                offset = read.NextOffset;
            }
            Assert.Equal(Enumerable.Range(0, 200).Select(Value), values);
        }

        // Without the CA the server's certificate is not trusted: no upload, the records stay hot.
        var blind = StorageSettings(redis.NewPrefix("s3blind"));
        await using (var storage = TlsService.Start<storage::Program>(null, blind))
        {
            var (tiered, state) = await FillAndTierAsync(storage);
            Assert.Equal(0, tiered);
            Assert.Equal(0, state.ColdBytes);
            Assert.Equal(0, state.HotStartOffset);
        }
    }
}
