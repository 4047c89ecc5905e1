using System.Buffers.Binary;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// ingest-schema: what schema enforcement costs. The same 1 KiB Avro records (framed in the registry wire
/// format with a registered id) go through Ingest's gRPC produce stream to two topics of the same shape,
/// one with schema validation and one without, round after round in one run. The unchecked topic is the
/// baseline; the ratio is checked over unchecked throughput (target: at least 0.9).
/// </summary>
public static class SchemaEnforcementRun
{
    public const string BaselineName = "ingest-grpc-unchecked";

    private const string Schema = """
        {"type":"record","name":"Reading","namespace":"loadgen","fields":[
          {"name":"id","type":"long"},{"name":"device","type":"string"},{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B","C"]}},
          {"name":"values","type":{"type":"array","items":"double"}},{"name":"payload","type":"bytes"}]}
        """;

    public static async Task<Report> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        var plainTopic = options.Topic + "-plain";
        var checkedTopic = options.Topic + "-checked";
        LoadRun.Progress($"scenario {options.Scenario}: ingest {options.Ingest}, registry {options.Registry}; {options.Records} Avro records of about " +
                         $"{options.RecordBytes} B, batch {options.Batch}, concurrency {options.Concurrency}; topics {plainTopic} and {checkedTopic}");
        using var rest = new HttpClient { BaseAddress = options.Rest };
        using var registry = new HttpClient { BaseAddress = options.Registry };
        await CreateTopicAsync(rest, plainTopic, options.Partitions, validation: false, cancellationToken);
        await CreateTopicAsync(rest, checkedTopic, options.Partitions, validation: true, cancellationToken);
        using var registered = await registry.PostAsJsonAsync(new Uri($"/subjects/{checkedTopic}-value/versions", UriKind.Relative), new { schema = Schema }, cancellationToken);
        registered.EnsureSuccessStatusCode();
        var schemaId = (await registered.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetInt32();

        var workload = Workload.Create(options, (random, size) => AvroValue(random, size, schemaId));
        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var cpu = new CpuSampler(redis, options.StoragePid, options.IngestPid);
        using var channel = LoadRun.NewChannel(options.Ingest);
        var client = new ProduceService.ProduceServiceClient(channel);
        var plain = new IngestGrpcProducer([client], options with { Topic = plainTopic }, workload, cpu);
        var enforced = new IngestGrpcProducer([client], options with { Topic = checkedTopic }, workload, cpu);

        var warm = Math.Max(options.Concurrency, (int)(workload.BatchCount * options.Warmup));
        for (var pass = 0; pass < 2; pass++)
        {
            await plain.RunAsync(warm, cancellationToken);
            await enforced.RunAsync(warm, cancellationToken);
        }
        var plainRounds = new List<RoundResult>();
        var checkedRounds = new List<RoundResult>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            await LoadRun.QuietAsync(cpu, cancellationToken);
            var p = await plain.RunAsync(workload.BatchCount, cancellationToken);
            plainRounds.Add(p);
            LoadRun.Progress($"round {round}: unchecked {p.RecordsPerSec,10:N0} records/s  p50 {p.PercentileMs(0.5):0.00} ms  cores: {p.Cpu}");
            await LoadRun.QuietAsync(cpu, cancellationToken);
            var c = await enforced.RunAsync(workload.BatchCount, cancellationToken);
            checkedRounds.Add(c);
            LoadRun.Progress($"round {round}: checked   {c.RecordsPerSec,10:N0} records/s  p50 {c.PercentileMs(0.5):0.00} ms  cores: {c.Cpu}");
        }

        using var storageChannel = LoadRun.NewChannel(options.Storage);
        var storage = new LogService.LogServiceClient(storageChannel);
        foreach (var (topic, producer) in new[] { (plainTopic, plain), (checkedTopic, enforced) })
        {
            var ends = (await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic }, cancellationToken: cancellationToken)).Partitions.Sum(p => p.EndOffset);
            if (ends != producer.Tally.PerPartition.Sum())
            {
                throw new InvalidOperationException($"Topic {topic} holds {ends} records; Ingest confirmed {producer.Tally.PerPartition.Sum()}.");
            }
            if (!options.KeepTopic)
            {
                using var _ = await rest.DeleteAsync(new Uri($"/v1/topics/{topic}", UriKind.Relative), cancellationToken);
            }
        }

        var bestPlain = plainRounds.MaxBy(r => r.RecordsPerSec)!;
        var bestChecked = checkedRounds.MaxBy(r => r.RecordsPerSec)!;
        var bytes = workload.Values.Sum(v => v.Length) / workload.Values.Count;
        return new Report(options.Scenario, options.Records, bytes, options.Batch,
            new BaselineReport(BaselineName, Math.Round(bestPlain.RecordsPerSec), bestPlain.MbPerSec(bytes), [.. plainRounds.Select(r => Math.Round(r.RecordsPerSec))], bestPlain.Cpu),
            new BrokerReport(Math.Round(bestChecked.RecordsPerSec), bestChecked.MbPerSec(bytes), Math.Round(bestChecked.PercentileMs(0.5), 3),
                Math.Round(bestChecked.PercentileMs(0.99), 3), [.. checkedRounds.Select(r => Math.Round(r.RecordsPerSec))],
                Math.Round(bestChecked.PercentileMs(0.999), 3), Math.Round(bestChecked.PercentileMs(1), 3), bestChecked.Cpu,
                enforced.Tally.Refused, enforced.Tally.Retried),
            Math.Round(bestChecked.RecordsPerSec / bestPlain.RecordsPerSec, 3), $"best-of-{options.Rounds}", options.Rounds, options.Partitions,
            options.Concurrency, options.Window, options.Connections, "none", "avro", checkedTopic, Verified: true, Environment.ProcessorCount);
    }

    /// <summary>A framed Avro Reading of about <paramref name="size"/> bytes: a few fields, eight doubles, and a payload making up the rest.</summary>
    private static byte[] AvroValue(Random random, int size, int schemaId)
    {
        var body = new List<byte>(size + 32);
        void Long(long value)
        {
            var zigzag = (ulong)((value << 1) ^ (value >> 63));
            while (zigzag >= 0x80)
            {
                body.Add((byte)(zigzag | 0x80));
                zigzag >>= 7;
            }
            body.Add((byte)zigzag);
        }
        void Bytes(byte[] bytes)
        {
            Long(bytes.Length);
            body.AddRange(bytes);
        }
        Long(random.NextInt64(0, long.MaxValue));
        Bytes(System.Text.Encoding.UTF8.GetBytes($"device-{random.Next(10_000)}"));
        Long(random.Next(3));
        Long(8);
        for (var i = 0; i < 8; i++)
        {
            body.AddRange(BitConverter.GetBytes(random.NextDouble()));
        }
        Long(0);
        var payload = new byte[Math.Max(0, size - 5 - body.Count - 3)];
        random.NextBytes(payload);
        Bytes(payload);
        var framed = new byte[5 + body.Count];
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), schemaId);
        body.CopyTo(framed, 5);
        return framed;
    }

    private static async Task CreateTopicAsync(HttpClient rest, string topic, int partitions, bool validation, CancellationToken cancellationToken)
    {
        using var response = await rest.PutAsJsonAsync(new Uri($"/v1/topics/{topic}", UriKind.Relative), new { partitions, schemaValidation = validation }, cancellationToken);
        response.EnsureSuccessStatusCode();
    }
}
