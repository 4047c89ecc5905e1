using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Broker.Client;
using Broker.Client.Producing;
using Broker.Contracts.Dapr;
using Broker.Contracts.Dapr.Components;
using Broker.Contracts.Storage;
using Dapr.Client;
using Google.Protobuf;
using Grpc.Core;
using StackExchange.Redis;

namespace Broker.LoadGen;

/// <summary>
/// dapr-publish: the same JSON events published three ways, back to back in each round, each path into its own
/// topic: Broker.Client's producer over Ingest's gRPC stream (the baseline: how a .NET app produces natively), the real DaprClient against Ingest's Dapr API (what a
/// sidecarless Dapr app does), and the pluggable component over its Unix socket, called as daprd calls it (the
/// CloudEvent already made, since daprd makes it). <c>--batch 1</c> publishes one event per call
/// (PublishEvent, Publish, one awaited ProduceAsync); more uses the bulk calls (BulkPublishEvent,
/// BulkPublish, that many ProduceAsync awaited together). <c>--concurrency</c> calls in flight on every path.
/// Every path's topic must grow by exactly what it published.
/// </summary>
public static class DaprPublishRun
{
    public const string PubsubName = "pubsub";
    private const string Instance = "pubsub-bench";

    public static async Task<DaprPublishReport> RunAsync(LoadGenOptions options, CancellationToken cancellationToken)
    {
        if (options.ComponentSocket is null)
        {
            throw new ArgumentException("dapr-publish needs --component-socket (the pluggable component's Unix socket).");
        }
        Progress($"scenario dapr-publish: ingest {options.Ingest}, component {options.ComponentSocket}; {options.Records} events x {options.RecordBytes} B, " +
                 $"batch {options.Batch}, concurrency {options.Concurrency}, {options.Rounds} rounds");
        using var rest = new HttpClient { BaseAddress = options.Rest, Timeout = TimeSpan.FromSeconds(30) };
        var topics = new Dictionary<string, string>
        {
            ["native"] = options.Topic + "-native",
            ["daprclient"] = options.Topic + "-daprclient",
            ["component"] = options.Topic + "-component",
        };
        foreach (var topic in topics.Values)
        {
            using var created = await rest.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions = options.Partitions }, cancellationToken);
            created.EnsureSuccessStatusCode();
        }

        var events = Events(options);
        using var componentChannel = ComponentSocket.Connect(options.ComponentSocket);
        using var storageChannel = LoadRun.NewChannel(options.Storage);
        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(options.Ingest.ToString()).Build();
        var component = new PubSub.PubSubClient(componentChannel);
        await InitComponentAsync(component, options, cancellationToken);

        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        redisOptions.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var cpu = new CpuSampler(redis, options.StoragePid, options.IngestPid, options.ComponentPid);
        // No linger: a call is sent as soon as the producer can, as the other paths' calls are; a bulk call fits one batch.
        await using var producer = new BrokerProducer<byte[], byte[]>(new BrokerClientOptions { Storage = options.Rest, IngestGrpc = options.Ingest },
            new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = options.Concurrency, BatchSize = Math.Max(16 * 1024, options.Batch * (options.RecordBytes + 64)) });
        var paths = new (string Name, Func<int, CancellationToken, Task<long[]>> Run)[]
        {
            ("native", (count, token) => NativeAsync(producer, topics["native"], events, count, options, token)),
            ("daprclient", (count, token) => DaprClientAsync(dapr, topics["daprclient"], events, count, options, token)),
            ("component", (count, token) => ComponentAsync(component, topics["component"], events, count, options, token)),
        };
        var published = paths.ToDictionary(p => p.Name, _ => 0L);
        var warm = Math.Max(options.Concurrency * options.Batch, (int)(options.Records * options.Warmup));
        Progress($"warm-up: {warm} events per path, twice, not counted");
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var (name, run) in paths)
            {
                await run(warm, cancellationToken);
                published[name] += warm;
            }
        }
        var rounds = paths.ToDictionary(p => p.Name, _ => new List<PathRound>());
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var (name, run) in paths)
            {
                await LoadRun.QuietAsync(cpu, cancellationToken);
                var before = await cpu.SampleAsync();
                var clock = Stopwatch.StartNew();
                var latencies = await run(options.Records, cancellationToken);
                clock.Stop();
                var cores = CpuSample.Between(before, await cpu.SampleAsync());
                published[name] += options.Records;
                var result = new PathRound(Math.Round(options.Records / clock.Elapsed.TotalSeconds), Percentile(latencies, 0.5), Percentile(latencies, 0.99),
                    new PathCpu(Math.Round(cores.Redis, 2), Round(cores.Storage), Round(cores.Ingest), Round(cores.Delivery), Math.Round(cores.LoadGen, 2)));
                rounds[name].Add(result);
                Progress($"round {round}: {name,-10} {result.EventsPerSec,9:N0} events/s  p50 {result.P50Ms:0.00} ms  p99 {result.P99Ms:0.00} ms  " +
                         $"cores: ingest {result.Cpu.Ingest}, component {result.Cpu.Component}, storage {result.Cpu.Storage}, redis {result.Cpu.Redis}, loadgen {result.Cpu.LoadGen}");
            }
        }

        // Every path's topic grew by exactly what it published.
        var storage = new LogService.LogServiceClient(storageChannel);
        foreach (var (name, topic) in topics)
        {
            var described = await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = topic }, cancellationToken: cancellationToken);
            var stored = described.Partitions.Sum(p => p.EndOffset - p.StartOffset);
            if (stored != published[name])
            {
                throw new InvalidOperationException($"{name}: topic {topic} holds {stored} records; {published[name]} were published.");
            }
            if (!options.KeepTopic)
            {
                using var deleted = await rest.DeleteAsync($"/v1/topics/{topic}", cancellationToken);
            }
        }
        Progress($"verified: each path's topic holds exactly the events it published ({string.Join(", ", published.Select(p => $"{p.Key} {p.Value}"))})");

        var best = rounds.ToDictionary(r => r.Key, r => r.Value.MaxBy(x => x.EventsPerSec)!);
        var native = best["native"];
        return new DaprPublishReport(
            Scenario: LoadGenOptions.DaprPublish,
            Events: options.Records,
            EventBytes: options.RecordBytes,
            Batch: options.Batch,
            Concurrency: options.Concurrency,
            Native: native,
            DaprClient: best["daprclient"],
            Component: best["component"],
            DaprClientRatio: Math.Round(best["daprclient"].EventsPerSec / native.EventsPerSec, 3),
            ComponentRatio: Math.Round(best["component"].EventsPerSec / native.EventsPerSec, 3),
            DaprClientP99Ratio: Math.Round(best["daprclient"].P99Ms / native.P99Ms, 2),
            ComponentP99Ratio: Math.Round(best["component"].P99Ms / native.P99Ms, 2),
            Aggregate: $"best-of-{options.Rounds}",
            Rounds: rounds.ToDictionary(r => r.Key, r => (IReadOnlyList<double>)[.. r.Value.Select(x => x.EventsPerSec)]),
            Verified: true,
            Processors: Environment.ProcessorCount);
    }

    /// <summary>Distinct JSON events of about --record-bytes each, as an app would publish (an id and a text payload).</summary>
    private static byte[][] Events(LoadGenOptions options)
    {
        var events = new byte[Math.Min(options.Records, 1000)][];
        for (var i = 0; i < events.Length; i++)
        {
            var head = $"{{\"id\":{i},\"payload\":\"";
            var padding = Math.Max(0, options.RecordBytes - head.Length - 2);
            events[i] = Encoding.UTF8.GetBytes(head + new string((char)('a' + (i % 26)), padding) + "\"}");
        }
        return events;
    }

    /// <summary>Runs <paramref name="count"/> events in calls of --batch on --concurrency workers; each call's latency, in Stopwatch ticks.</summary>
    private static async Task<long[]> CallsAsync(int count, LoadGenOptions options, Func<int, int, CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        var calls = (count + options.Batch - 1) / options.Batch;
        var latencies = new long[calls];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(async _ =>
        {
            int c;
            while ((c = Interlocked.Increment(ref next)) < calls)
            {
                var first = c * options.Batch;
                var size = Math.Min(options.Batch, count - first);
                var started = Stopwatch.GetTimestamp();
                await call(first, size, cancellationToken);
                latencies[c] = Stopwatch.GetTimestamp() - started;
            }
        }));
        return latencies;
    }

    /// <summary>Broker.Client's producer: each call's events produced and awaited together.</summary>
    private static Task<long[]> NativeAsync(BrokerProducer<byte[], byte[]> producer, string topic, byte[][] events, int count, LoadGenOptions options,
        CancellationToken cancellationToken) =>
        CallsAsync(count, options, async (first, size, token) =>
        {
            var sent = new Task<DeliveryResult>[size];
            for (var i = 0; i < size; i++)
            {
                sent[i] = producer.ProduceAsync(topic, null, events[(first + i) % events.Length], cancellationToken: token);
            }
            await Task.WhenAll(sent);
        }, cancellationToken);

    private static Task<long[]> DaprClientAsync(DaprClient dapr, string topic, byte[][] events, int count, LoadGenOptions options, CancellationToken cancellationToken)
    {
        // The bulk call serializes its items as JSON: the events go as parsed JSON, published as application/json.
        var parsed = events.Select(e => JsonDocument.Parse(e).RootElement).ToArray();
        return CallsAsync(count, options, async (first, size, token) =>
        {
            if (options.Batch == 1)
            {
                await dapr.PublishByteEventAsync(PubsubName, topic, events[first % events.Length], "application/json", cancellationToken: token);
                return;
            }
            var batch = new JsonElement[size];
            for (var i = 0; i < size; i++)
            {
                batch[i] = parsed[(first + i) % parsed.Length];
            }
            var answer = await dapr.BulkPublishEventAsync(PubsubName, topic, batch, cancellationToken: token);
            if (answer.FailedEntries.Count > 0)
            {
                throw new InvalidOperationException($"BulkPublishEvent: {answer.FailedEntries.Count} entries failed: {answer.FailedEntries[0].ErrorMessage}");
            }
        }, cancellationToken);
    }

    private static Task<long[]> ComponentAsync(PubSub.PubSubClient component, string topic, byte[][] events, int count, LoadGenOptions options,
        CancellationToken cancellationToken)
    {
        // daprd hands the component the CloudEvent it made: made here before timing, as daprd's own work.
        ByteString[] cloudEvents = [.. events.Select(e => ByteString.CopyFrom(CloudEvent(topic, e)))];
        var headers = new Metadata { { "x-component-instance", Instance } };
        return CallsAsync(count, options, async (first, size, token) =>
        {
            if (options.Batch == 1)
            {
                await component.PublishAsync(new PublishRequest
                {
                    PubsubName = Instance,
                    Topic = topic,
                    Data = cloudEvents[first % cloudEvents.Length],
                    ContentType = "application/cloudevents+json",
                }, headers, cancellationToken: token);
                return;
            }
            var bulk = new BulkPublishRequest { PubsubName = Instance, Topic = topic };
            for (var i = 0; i < size; i++)
            {
                bulk.Entries.Add(new BulkMessageEntry
                {
                    EntryId = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Event = cloudEvents[(first + i) % cloudEvents.Length],
                    ContentType = "application/cloudevents+json",
                });
            }
            var answer = await component.BulkPublishAsync(bulk, headers, cancellationToken: token);
            if (answer.FailedEntries.Count > 0)
            {
                throw new InvalidOperationException($"BulkPublish: {answer.FailedEntries.Count} entries failed: {answer.FailedEntries[0].Error}");
            }
        }, cancellationToken);
    }

    private static byte[] CloudEvent(string topic, byte[] data)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("specversion", "1.0");
            writer.WriteString("id", Guid.NewGuid().ToString());
            writer.WriteString("source", "loadgen");
            writer.WriteString("type", "com.dapr.event.sent");
            writer.WriteString("datacontenttype", "application/json");
            writer.WriteString("topic", topic);
            writer.WriteString("pubsubname", PubsubName);
            writer.WritePropertyName("data");
            writer.WriteRawValue(data);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static async Task InitComponentAsync(PubSub.PubSubClient component, LoadGenOptions options, CancellationToken cancellationToken)
    {
        var init = new PubSubInitRequest { Metadata = new MetadataRequest() };
        init.Metadata.Properties["consumerID"] = "loadgen";
        init.Metadata.Properties["ingestAddress"] = options.Ingest.ToString();
        init.Metadata.Properties["deliveryAddress"] = options.Delivery.ToString();
        await component.InitAsync(init, new Metadata { { "x-component-instance", Instance } }, cancellationToken: cancellationToken);
    }

    private static double Percentile(long[] latencies, double q)
    {
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        var rank = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return Math.Round(sorted[rank] * 1000.0 / Stopwatch.Frequency, 3);
    }

    private static double? Round(double? cores) => cores is { } c ? Math.Round(c, 2) : null;

    private static void Progress(string message) => Console.Error.WriteLine($"[loadgen] {message}");
}

/// <summary>Cores each process used during a path's round; Component is the pluggable component host (null when its pid is unknown).</summary>
public sealed record PathCpu(double Redis, double? Storage, double? Ingest, double? Component, double LoadGen);

public sealed record PathRound(double EventsPerSec, double P50Ms, double P99Ms, PathCpu Cpu);

/// <summary>The JSON line of dapr-publish: each path's best round, and the Dapr paths against the native one.</summary>
public sealed record DaprPublishReport(
    string Scenario,
    int Events,
    int EventBytes,
    int Batch,
    int Concurrency,
    PathRound Native,
    PathRound DaprClient,
    PathRound Component,
    double DaprClientRatio,
    double ComponentRatio,
    double DaprClientP99Ratio,
    double ComponentP99Ratio,
    string Aggregate,
    IReadOnlyDictionary<string, IReadOnlyList<double>> Rounds,
    bool Verified,
    int Processors);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DaprPublishReport))]
internal sealed partial class DaprPublishJsonContext : JsonSerializerContext;
