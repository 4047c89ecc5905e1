using Broker.Storage.Segments;
using Broker.Storage.Tests.Infrastructure;
using Broker.Testing;

namespace Broker.Storage.Tests.Tiering;

/// <summary>The segment store contract, on a real S3-compatible server over HTTP and on a local folder.</summary>
[Collection(TieringCollection.Name)]
public sealed class SegmentStoreTests(S3Fixture s3) : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "broker-segments-" + Guid.NewGuid().ToString("N"));

    private S3SegmentStore NewS3(long multipartThreshold = 64L * 1024 * 1024) => new(new SegmentStoreOptions.S3Settings
    {
        Bucket = S3ServerProcess.Bucket,
        ServiceUrl = s3.Server.ServiceUrl,
        ForcePathStyle = true,
        AccessKey = S3ServerProcess.AccessKey,
        SecretKey = S3ServerProcess.SecretKey,
        MultipartThresholdBytes = multipartThreshold,
        MultipartPartBytes = 5 * 1024 * 1024,
    });

    [Fact]
    public async Task S3_puts_reads_ranges_and_deletes()
    {
        using var store = NewS3();
        await AssertContractAsync(store, $"t-{Guid.NewGuid():N}/0/00000000000000000000.seg");
    }

    [Fact]
    public async Task The_local_folder_puts_reads_ranges_and_deletes()
    {
        await AssertContractAsync(new LocalSegmentStore(_folder), "orders/0/00000000000000000000.seg");
        await Assert.ThrowsAsync<ArgumentException>(() => new LocalSegmentStore(_folder).PutAsync("../escape.seg", new byte[1], CancellationToken.None));
    }

    [Fact]
    public async Task S3_uploads_a_large_segment_in_parts()
    {
        using var store = NewS3(multipartThreshold: 5 * 1024 * 1024);
        var content = new byte[(12 * 1024 * 1024) + 17];
        Random.Shared.NextBytes(content);
        var name = $"t-{Guid.NewGuid():N}/1/00000000000000000042.seg";
        await store.PutAsync(name, content, CancellationToken.None);
        var back = new byte[content.Length];
        Assert.Equal(content.Length, await store.ReadAsync(name, 0, back, CancellationToken.None));
        Assert.Equal(content, back);
    }

    private static async Task AssertContractAsync(ISegmentStore store, string name)
    {
        var content = new byte[300_000];
        Random.Shared.NextBytes(content);
        await store.PutAsync(name, content, CancellationToken.None);

        var range = new byte[1000];
        Assert.Equal(1000, await store.ReadAsync(name, 12_345, range, CancellationToken.None));
        Assert.Equal(content.AsSpan(12_345, 1000).ToArray(), range);
        // A range running past the end gives what there is; one starting past it gives nothing.
        var tail = new byte[500];
        Assert.Equal(100, await store.ReadAsync(name, content.Length - 100, tail, CancellationToken.None));
        Assert.Equal(content.AsSpan(content.Length - 100).ToArray(), tail[..100]);
        Assert.Equal(0, await store.ReadAsync(name, content.Length + 10, tail, CancellationToken.None));

        // Writing the same name again replaces it (a repeated upload after a crash).
        var again = content.Reverse().ToArray();
        await store.PutAsync(name, again, CancellationToken.None);
        Assert.Equal(1000, await store.ReadAsync(name, 0, range, CancellationToken.None));
        Assert.Equal(again.AsSpan(0, 1000).ToArray(), range);

        // Listing by prefix names it (and its sibling), with a time of writing, and not what lies outside the prefix.
        var folder = name[..(name.LastIndexOf('/') + 1)];
        var sibling = folder + "00000000000000000007.seg";
        await store.PutAsync(sibling, new byte[10], CancellationToken.None);
        var listed = new List<StoredObject>();
        await foreach (var item in store.ListAsync(folder, CancellationToken.None))
        {
            listed.Add(item);
        }
        Assert.Equal([name, sibling], listed.Select(o => o.Name).Order(StringComparer.Ordinal));
        Assert.All(listed, o => Assert.InRange(o.LastModified, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5)));
        await foreach (var item in store.ListAsync(folder + "x", CancellationToken.None))
        {
            Assert.Fail($"listed {item.Name} outside the prefix");
        }
        await store.DeleteAsync(sibling, CancellationToken.None);

        await store.DeleteAsync(name, CancellationToken.None);
        await Assert.ThrowsAsync<SegmentNotFoundException>(() => store.ReadAsync(name, 0, range, CancellationToken.None));
        await store.DeleteAsync(name, CancellationToken.None); // deleting what is gone is fine
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
