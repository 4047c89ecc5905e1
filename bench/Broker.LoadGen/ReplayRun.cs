using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.S3;
using Amazon.S3.Model;
using Broker.Contracts.Storage;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// replay: how fast history comes back out of the cold tier. The load generator appends --records to a
/// topic whose hot tier holds almost nothing (hotBytes 1 MiB, hotMs 1 s), waits until Storage has tiered all
/// of it, then per round measures, one after the other: the baseline, a plain read of the same segment
/// objects from the same store (S3: ranged GETs of --chunk-bytes, --read-ahead + 1 in flight per partition,
/// partitions in parallel; local: the files read the same way), and the broker, a replay job of the whole
/// topic with the verify target (every batch read through Storage's cold reader and Delivery's replay
/// runner, every record checked, nothing delivered). Throughput is data bytes per second; the broker's is
/// the job's own bytes over its start-to-finish time. One untimed round of each goes first.
/// </summary>
public static class ReplayRun
{
    public static async Task<ReplayReport> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        LoadRun.Progress($"scenario replay: storage {options.Storage}, delivery {options.DeliveryRest}, store {options.SegmentStore}; "
                         + $"{options.Records} records x {options.RecordBytes} B, batch {options.Batch}, {options.Partitions} partitions, target {options.ReplayTarget}");
        using var rest = new HttpClient { BaseAddress = options.Rest };
        using var delivery = new HttpClient { BaseAddress = options.DeliveryRest, Timeout = TimeSpan.FromMinutes(5) };
        using var channel = LoadRun.NewChannel(options.Storage);
        var storage = new LogService.LogServiceClient(channel);
        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var cpu = new CpuSampler(redis, options.StoragePid, null, options.DeliveryPid);

        using (var created = await rest.PutAsJsonAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative),
                   new { partitions = options.Partitions, hotBytes = 1024 * 1024, hotMs = 1000 }, cancellationToken))
        {
            created.EnsureSuccessStatusCode();
        }
        var workload = Workload.Create(options);
        var appender = new StorageAppender([storage], options, workload, cpu);
        var appended = await appender.RunAsync(workload.BatchCount, cancellationToken);
        LoadRun.Progress($"appended {appended.Records} records ({appended.MbPerSec(options.RecordBytes)} MB/s); waiting for tiering");
        var tiered = await WaitTieredAsync(storage, options, cancellationToken);
        LoadRun.Progress($"all {tiered.Partitions.Sum(p => p.EndOffset)} records tiered: {tiered.Partitions.Sum(p => p.ColdBytes) / 1e6:0.0} MB in segments");

        using var reader = SegmentReader.Create(options);
        var objects = await reader.ListAsync(options.Topic, cancellationToken);
        // One untimed round of each first: the JIT's tiering (in the load generator and in the services) otherwise
        // takes a large share of both cores during the first rounds.
        await BaselineAsync(reader, objects, options, cpu, cancellationToken);
        await ReplayAsync(delivery, options, cpu, cancellationToken);
        LoadRun.Progress("warmed up: one untimed round of each");
        var baselineRounds = new List<ReplayRound>();
        var brokerRounds = new List<ReplayRound>();
        var readRounds = new List<ReplayRound>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            await LoadRun.QuietAsync(cpu, cancellationToken);
            var b = await BaselineAsync(reader, objects, options, cpu, cancellationToken);
            baselineRounds.Add(b);
            LoadRun.Progress($"round {round}: {reader.Name,-24} {b.MbPerSec,8:0.0} MB/s  cores: {b.Cpu}");
            await LoadRun.QuietAsync(cpu, cancellationToken);
            var before = await ColdCountersAsync(rest, cancellationToken);
            var r = await ReplayAsync(delivery, options, cpu, cancellationToken);
            var after = await ColdCountersAsync(rest, cancellationToken);
            r = r with { StoreGets = after.Gets - before.Gets, CacheHits = after.Hits - before.Hits, CacheMisses = after.Misses - before.Misses };
            brokerRounds.Add(r);
            LoadRun.Progress($"round {round}: replay-{options.ReplayTarget,-17} {r.MbPerSec,8:0.0} MB/s  {r.RecordsPerSec,10:N0} records/s  "
                             + $"GETs {r.StoreGets}, chunk cache {r.CacheHits} hits / {r.CacheMisses} misses  cores: {r.Cpu}");
            await LoadRun.QuietAsync(cpu, cancellationToken);
            var s = await StorageReadAsync(storage, options, cpu, cancellationToken);
            readRounds.Add(s);
            LoadRun.Progress($"round {round}: storage-read (diagnostic) {s.MbPerSec,8:0.0} MB/s  {s.RecordsPerSec,10:N0} records/s  cores: {s.Cpu}");
        }
        if (!options.KeepTopic)
        {
            using var _ = await rest.DeleteAsync(new Uri($"/v1/topics/{options.Topic}", UriKind.Relative), cancellationToken);
        }
        var baseline = baselineRounds.MaxBy(r => r.MbPerSec)!;
        var broker = brokerRounds.MaxBy(r => r.MbPerSec)!;
        return new ReplayReport("replay", options.SegmentStore, options.ReplayTarget, options.Records, options.RecordBytes, options.Partitions,
            objects.Sum(o => o.Size), objects.Count, reader.Name, baseline, broker, Math.Round(broker.MbPerSec / baseline.MbPerSec, 3),
            [.. baselineRounds.Select(r => r.MbPerSec)], [.. brokerRounds.Select(r => r.MbPerSec)], readRounds.MaxBy(r => r.MbPerSec)!,
            $"best-of-{options.Rounds}", Environment.ProcessorCount);
    }

    /// <summary>Storage's segment GETs and chunk cache hits and misses so far, from its /metrics.</summary>
    private static async Task<(long Gets, long Hits, long Misses)> ColdCountersAsync(HttpClient rest, CancellationToken cancellationToken)
    {
        var text = await rest.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        long Sum(string metric, string? having = null) => text.Split('\n')
            .Where(line => line.StartsWith(metric, StringComparison.Ordinal) && (having is null || line.Contains(having, StringComparison.Ordinal)))
            .Sum(line => (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return (Sum("broker_segments_requests_total{", "operation=\"get\""), Sum("broker_cold_cache_hits_total"), Sum("broker_cold_cache_misses_total"));
    }

    private static async Task<DescribeTopicResponse> WaitTieredAsync(LogService.LogServiceClient storage, LoadGenOptions options, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var described = await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = options.Topic }, cancellationToken: cancellationToken);
            if (described.Partitions.All(p => p.HotStartOffset == p.EndOffset))
            {
                return described;
            }
            if (deadline.Elapsed > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException($"Tiering did not finish within 5 minutes: {described}");
            }
            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>Every object read whole in chunks, --read-ahead + 1 GETs in flight per partition, the partitions at once.</summary>
    private static async Task<ReplayRound> BaselineAsync(SegmentReader reader, IReadOnlyList<SegmentObject> objects, LoadGenOptions options, CpuSampler cpu,
        CancellationToken cancellationToken)
    {
        var start = await cpu.SampleAsync();
        var bytes = 0L;
        await Task.WhenAll(objects.GroupBy(o => o.Partition).Select(partition => Task.Run(async () =>
        {
            using var gate = new SemaphoreSlim(options.ReadAhead + 1);
            var reads = new List<Task>();
            foreach (var segment in partition.OrderBy(o => o.Name, StringComparer.Ordinal))
            {
                for (var at = 0L; at < segment.Size; at += options.ChunkBytes)
                {
                    await gate.WaitAsync(cancellationToken);
                    var position = at;
                    reads.Add(Task.Run(async () =>
                    {
                        try
                        {
                            var buffer = new byte[(int)Math.Min(options.ChunkBytes, segment.Size - position)];
                            var read = await reader.ReadAsync(segment.Name, position, buffer, cancellationToken);
                            Interlocked.Add(ref bytes, read);
                        }
                        finally
                        {
                            gate.Release();
                        }
                    }, cancellationToken));
                }
            }
            await Task.WhenAll(reads);
        }, cancellationToken)));
        var end = await cpu.SampleAsync();
        var elapsed = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp);
        return new ReplayRound(Math.Round(bytes / 1e6 / elapsed.TotalSeconds, 1), 0, bytes, elapsed.TotalSeconds, CpuSample.Between(start, end));
    }

    /// <summary>
    /// A diagnostic: the whole topic read straight from Storage's Read API (what a replay job's reader does, with
    /// one read per partition under way and the partitions at once), without Delivery: where the time goes.
    /// </summary>
    private static async Task<ReplayRound> StorageReadAsync(LogService.LogServiceClient storage, LoadGenOptions options, CpuSampler cpu, CancellationToken cancellationToken)
    {
        var start = await cpu.SampleAsync();
        var bytes = 0L;
        var records = 0L;
        await Task.WhenAll(Enumerable.Range(0, options.Partitions).Select(p => Task.Run(async () =>
        {
            var offset = 0L;
            while (true)
            {
                var read = await storage.ReadAsync(new ReadRequest { Topic = options.Topic, Partition = p, Offset = offset, MaxBytes = 4 * 1024 * 1024 },
                    cancellationToken: cancellationToken);
                if (read.Batches.Count == 0)
                {
                    return;
                }
                Interlocked.Add(ref bytes, read.Batches.Sum(b => (long)b.Length));
                Interlocked.Add(ref records, read.NextOffset - offset);
                offset = read.NextOffset;
            }
        }, cancellationToken)));
        var end = await cpu.SampleAsync();
        var seconds = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp).TotalSeconds;
        return new ReplayRound(Math.Round(bytes / 1e6 / seconds, 1), Math.Round(records / seconds), bytes, Math.Round(seconds, 3), CpuSample.Between(start, end));
    }

    private static async Task<ReplayRound> ReplayAsync(HttpClient delivery, LoadGenOptions options, CpuSampler cpu, CancellationToken cancellationToken)
    {
        object target = options.ReplayTarget == "topic" ? new { topic = $"{options.Topic}-copy-{Guid.NewGuid().ToString("N")[..8]}" } : new { verify = true };
        var start = await cpu.SampleAsync();
        using var created = await delivery.PostAsJsonAsync(new Uri("/v1/replays", UriKind.Relative), new { topic = options.Topic, target }, cancellationToken);
        var job = await created.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        if (!created.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/replays answered {(int)created.StatusCode}: {job}");
        }
        var id = job.GetProperty("id").GetString();
        while (true)
        {
            await Task.Delay(100, cancellationToken);
            job = await delivery.GetFromJsonAsync<JsonElement>(new Uri($"/v1/replays/{id}", UriKind.Relative), cancellationToken);
            var state = job.GetProperty("state").GetString();
            if (state == "completed")
            {
                break;
            }
            if (state is "failed" or "cancelled")
            {
                throw new InvalidOperationException($"Replay {id} ended {state}: {job}");
            }
        }
        var end = await cpu.SampleAsync();
        var seconds = (job.GetProperty("finishedAt").GetDateTimeOffset() - job.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
        var bytes = job.GetProperty("bytesDone").GetInt64();
        var records = job.GetProperty("recordsDone").GetInt64();
        if (records != options.Records)
        {
            throw new InvalidOperationException($"Replay {id} did {records} records; the topic holds {options.Records}.");
        }
        return new ReplayRound(Math.Round(bytes / 1e6 / seconds, 1), Math.Round(records / seconds), bytes, Math.Round(seconds, 3), CpuSample.Between(start, end));
    }
}

public sealed record SegmentObject(string Name, int Partition, long Size);

/// <summary>The store the segments are in, read the plain way: S3 ranged GETs, or the files.</summary>
public abstract class SegmentReader : IDisposable
{
    public abstract string Name { get; }

    public static SegmentReader Create(LoadGenOptions options) =>
        options.SegmentStore == "s3" ? new S3Reader(options) : new FileReader(options.SegmentsDirectory ?? throw new ArgumentException("--segments-dir is needed with --store local."), options.S3Prefix);

    public abstract Task<IReadOnlyList<SegmentObject>> ListAsync(string topic, CancellationToken cancellationToken);

    public abstract Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    protected static int PartitionOf(string name) => int.Parse(name.Split('/')[^2], System.Globalization.CultureInfo.InvariantCulture);

    private sealed class S3Reader(LoadGenOptions options) : SegmentReader
    {
        private readonly AmazonS3Client _client = new(new Amazon.Runtime.BasicAWSCredentials(options.S3AccessKey, options.S3SecretKey), new AmazonS3Config
        {
            ServiceURL = options.S3Url.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            ResponseChecksumValidation = Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED,
        });

        public override string Name => "s3-ranged-get";

        public override async Task<IReadOnlyList<SegmentObject>> ListAsync(string topic, CancellationToken cancellationToken)
        {
            var listed = new List<SegmentObject>();
            var request = new ListObjectsV2Request { BucketName = options.S3Bucket, Prefix = $"{options.S3Prefix}/{topic}/" };
            ListObjectsV2Response response;
            do
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken);
                listed.AddRange((response.S3Objects ?? []).Select(o => new SegmentObject(o.Key, PartitionOf(o.Key), o.Size ?? 0)));
                request.ContinuationToken = response.NextContinuationToken;
            }
            while (response.IsTruncated == true);
            return listed;
        }

        public override async Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken)
        {
            using var response = await _client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = options.S3Bucket,
                Key = name,
                ByteRange = new ByteRange(position, position + into.Length - 1),
            }, cancellationToken);
            return await response.ResponseStream.ReadAtLeastAsync(into, into.Length, throwOnEndOfStream: false, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _client.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private sealed class FileReader(string directory, string prefix) : SegmentReader
    {
        public override string Name => "file-read";

        public override Task<IReadOnlyList<SegmentObject>> ListAsync(string topic, CancellationToken cancellationToken)
        {
            var root = Path.Combine(directory, prefix, topic);
            IReadOnlyList<SegmentObject> listed = [.. Directory.EnumerateFiles(root, "*.seg", SearchOption.AllDirectories)
                .Select(f => new SegmentObject(Path.GetRelativePath(directory, f), PartitionOf(Path.GetRelativePath(directory, f).Replace('\\', '/')), new FileInfo(f).Length))];
            return Task.FromResult(listed);
        }

        public override async Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken)
        {
            using var handle = File.OpenHandle(Path.Combine(directory, name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
            return await RandomAccess.ReadAsync(handle, into, position, cancellationToken);
        }
    }
}

/// <summary>One timed round; for the replay, also the segment GETs Storage made and its chunk cache's hits and misses.</summary>
public sealed record ReplayRound(double MbPerSec, double RecordsPerSec, long Bytes, double Seconds, CpuReport Cpu,
    long? StoreGets = null, long? CacheHits = null, long? CacheMisses = null);

public sealed record ReplayReport(
    string Scenario,
    string Store,
    string Target,
    int Records,
    int RecordBytes,
    int Partitions,
    long SegmentBytes,
    int Segments,
    string BaselineName,
    ReplayRound Baseline,
    ReplayRound Broker,
    double Ratio,
    IReadOnlyList<double> BaselineRoundsMbPerSec,
    IReadOnlyList<double> BrokerRoundsMbPerSec,
    ReplayRound StorageRead,
    string Aggregate,
    int Processors);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReplayReport))]
internal sealed partial class ReplayJsonContext : JsonSerializerContext;
