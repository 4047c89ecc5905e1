using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.LoadGen;

/// <summary>
/// ingest-http: <c>--concurrency</c> workers, each POSTing produce requests of <c>--batch</c> records
/// (<c>{"records":[{"key":"key-N","valueBase64":"…"}]}</c>, keys <c>key-{i % 1000}</c>) to Ingest's REST
/// API over HTTP/1.1 keep-alive connections, one request at a time. The body is written per request into
/// the worker's reused buffer (base64 encoding included: that is the client's share of the path). A
/// request's latency runs from sending it to having read the response. 429 is counted, waited out
/// (Retry-After) and sent again (a refused request wrote nothing); any other failure ends the run.
/// </summary>
public sealed class IngestHttpProducer(HttpClient http, LoadGenOptions options, Workload workload, CpuSampler cpu) : IProducePath
{
    private static readonly MediaTypeHeaderValue s_json = new("application/json");
    private static readonly TimeSpan s_defaultRetryAfter = TimeSpan.FromSeconds(1);

    private readonly Uri _uri = new($"/v1/topics/{options.Topic}/records", UriKind.Relative);
    private readonly byte[][] _keys = [.. Enumerable.Range(0, IngestGrpcProducer.DistinctKeys).Select(k => System.Text.Encoding.UTF8.GetBytes($"key-{k}"))];

    public ProduceTally Tally { get; } = new(options.Partitions);

    public async Task<RoundResult> RunAsync(int batchCount, CancellationToken cancellationToken)
    {
        var latencies = new long[batchCount];
        var next = -1;
        var records = 0L;

        async Task Worker()
        {
            var body = new ArrayBufferWriter<byte>(options.Batch * ((options.RecordBytes * 4 / 3) + 64) + 64);
            using var json = new Utf8JsonWriter(body);
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= batchCount)
                {
                    return;
                }
                body.ResetWrittenCount();
                json.Reset(body);
                WriteBody(json, i);
                var count = workload.BatchCounts[i];
                while (true)
                {
                    using var content = new ReadOnlyMemoryContent(body.WrittenMemory);
                    content.Headers.ContentType = s_json;
                    var started = Stopwatch.GetTimestamp();
                    using var response = await http.PostAsync(_uri, content, cancellationToken);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        var answer = await response.Content.ReadFromJsonAsync(IngestHttpJsonContext.Default.ProduceAnswer, cancellationToken);
                        latencies[i] = Stopwatch.GetTimestamp() - started;
                        if (answer?.Offsets is not { } offsets || offsets.Count != count)
                        {
                            throw new InvalidOperationException($"Request {i} of {count} records was answered with {answer?.Offsets?.Count ?? 0} offsets.");
                        }
                        foreach (var group in offsets.GroupBy(o => o.Partition))
                        {
                            Tally.Add(group.Key, group.Count());
                        }
                        Interlocked.Add(ref records, count);
                        break;
                    }
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        Tally.RefusedAndRetried("429");
                        await Task.Delay(response.Headers.RetryAfter?.Delta ?? s_defaultRetryAfter, cancellationToken);
                        continue;
                    }
                    var detail = await response.Content.ReadAsStringAsync(cancellationToken);
                    throw new InvalidOperationException($"POST {_uri} (request {i}) answered {(int)response.StatusCode}: {detail}");
                }
            }
        }

        var start = await cpu.SampleAsync();
        var workers = new Task[Math.Min(options.Concurrency, batchCount)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(Worker, cancellationToken);
        }
        await Task.WhenAll(workers);
        var end = await cpu.SampleAsync();
        return new RoundResult(records, Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp), CpuSample.Between(start, end), latencies);
    }

    private void WriteBody(Utf8JsonWriter json, int batch)
    {
        var values = workload.Values;
        var (first, end) = workload.RecordsOf(batch);
        json.WriteStartObject();
        json.WriteStartArray("records"u8);
        for (var r = first; r < end; r++)
        {
            json.WriteStartObject();
            json.WriteString("key"u8, _keys[r % _keys.Length]);
            json.WriteBase64String("valueBase64"u8, values[r % values.Count]);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
    }
}

public sealed record ProduceAnswer(IReadOnlyList<ProducedOffset>? Offsets);

public sealed record ProducedOffset(int Partition, long Offset);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ProduceAnswer))]
internal sealed partial class IngestHttpJsonContext : JsonSerializerContext;
