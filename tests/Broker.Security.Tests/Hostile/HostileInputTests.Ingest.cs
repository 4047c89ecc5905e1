using System.Text.Json;
using Broker.Contracts.Dapr.Runtime;
using Broker.Contracts.Ingest;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Security.Tests.Hostile;

public sealed partial class HostileInputTests
{
    private const int HeadersTooLarge = 431;

    // ---- Ingest REST: POST /v1/topics/{topic}/records ---------------------------------------------------------------

    private IEnumerable<HostileCase> IngestRestCases()
    {
        const string path = $"/v1/topics/{Canary}/records";
        Task<Answer> Produce(HttpContent body, Action<HttpRequestMessage>? configure = null) => Ingest(HttpMethod.Post, path, body, configure);
        Task<Answer> Records(string records) => Produce(Json($"{{\"records\":{records}}}"));

        // Ingest reads any body that is not application/octet-stream as JSON (curl -d sends form-urlencoded), so no media type case.
        foreach (var (name, body, statuses) in BrokenBodies("""{"records":[{"value":{"n":1}}]}""", "records", mediaTypeChecked: false))
        {
            yield return new($"ingest POST records: {name}", () => Produce(body()), name.StartsWith("a 40 MB", StringComparison.Ordinal) ? [TooLarge] : statuses);
        }
        yield return new("ingest POST records: a 9 MB body (past Ingest:MaxRequestBytes, 8 MB)", () =>
            Produce(Bytes(Payloads.Filled("{\"records\":[{\"valueBase64\":\"", 9_200_000, "\"}]}", 'A'))), [TooLarge]);
        foreach (var (name, before, after) in new[]
        {
            ("a 2 MB header value (past Ingest:MaxRecordBytes)", "{\"records\":[{\"value\":1,\"headers\":{\"h\":\"", "\"}}]}"),
            ("a 2 MB value (past Ingest:MaxRecordBytes)", "{\"records\":[{\"value\":\"", "\"}]}"),
            ("a 2 MB key (past Ingest:MaxRecordBytes)", "{\"records\":[{\"value\":1,\"key\":\"", "\"}]}"),
        })
        {
            yield return new($"ingest POST records: {name}", () => Produce(Bytes(Payloads.Filled(before, 2 * 1024 * 1024, after))), [BadRequest]);
        }
        yield return new("ingest POST records: a record's value nested 10,000 deep", () => Records($"[{Payloads.DeepValue("value")}]"), [BadRequest]);
        yield return new("ingest POST records: a record's key not UTF-8", () => Produce(Bytes(
            [.. "{\"records\":[{\"value\":1,\"key\":\"a"u8, 0xFF, 0xFE, .. "\"}]}"u8])), [BadRequest]);
        yield return new("ingest POST records: 1,000,000 records (13 MB)", () => Produce(Bytes(Payloads.Array("""{"value":1}""", 1_000_000, "{\"records\":", "}"))),
            [TooLarge, BadRequest]);
        yield return new("ingest POST records: 1,000,000 nulls", () => Produce(Bytes(Payloads.Array("null", 1_000_000, "{\"records\":", "}"))), [BadRequest]);
        yield return new("ingest POST records: 10,001 records (past Ingest:MaxRecordsPerRequest)", () =>
            Produce(Bytes(Payloads.Array("""{"value":1}""", 10_001, "{\"records\":", "}"))), [BadRequest]);

        foreach (var (name, records) in new[]
        {
            ("records as an object", "{}"),
            ("records as a string", "\"x\""),
            ("records as null", "null"),
            ("no records", "[]"),
            ("a null record", "[null]"),
            ("a record of the wrong kind", "[42]"),
            ("a record with value and valueBase64", """[{"value":1,"valueBase64":"AA=="}]"""),
            ("a record with neither value nor valueBase64", """[{"key":"k"}]"""),
            ("valueBase64 that is not base64", """[{"valueBase64":"!!not base64!!"}]"""),
            ("valueBase64 cut short", """[{"valueBase64":"AAA"}]"""),
            ("valueBase64 as a number", """[{"valueBase64":123}]"""),
            ("a key as a number", """[{"value":1,"key":5}]"""),
            ("a key as an object", """[{"value":1,"key":{}}]"""),
            ("headers as an array", """[{"value":1,"headers":["a"]}]"""),
            ("a header value as a number", """[{"value":1,"headers":{"a":1}}]"""),
            ("a header with an empty name", """[{"value":1,"headers":{"":"x"}}]"""),
            ("65 headers (past Ingest:MaxHeadersPerRecord)", $"[{{\"value\":1,\"headers\":{{{string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"h{i}\":\"v\""))}}}}}]"),
            ("partition -1", """[{"value":1,"partition":-1}]"""),
            ("a partition past the topic's", """[{"value":1,"partition":3}]"""),
            ("partition 2^31", """[{"value":1,"partition":2147483648}]"""),
            ("partition 1.5", """[{"value":1,"partition":1.5}]"""),
            ("partition 1e400", """[{"value":1,"partition":1e400}]"""),
            ("partition \"1\" (a string)", """[{"value":1,"partition":"1"}]"""),
            ("valueSchemaId 2^31", """[{"value":{"n":1},"valueSchemaId":2147483648}]"""),
            ("valueSchemaId -1", """[{"value":{"n":1},"valueSchemaId":-1}]"""),
            ("a valueSchemaId nobody registered", """[{"value":{"n":1},"valueSchemaId":999999}]"""),
            ("a valueSchemaId with valueBase64 only", """[{"valueBase64":"AA==","valueSchemaId":1}]"""),
        })
        {
            yield return new($"ingest POST records: {name}", () => Records(records), [BadRequest, TooLarge, NotFound]);
        }
        foreach (var (name, value) in new[]
        {
            ("an int field of 2^31", "2147483648"), ("an int field of 1e400", "1e400"), ("an int field of 1.5", "1.5"), ("an int field as a string", "\"1\""),
            ("an int field nested 10,000 deep", new string('[', Payloads.Depth) + new string(']', Payloads.Depth)),
        })
        {
            yield return new($"ingest POST records: valueSchemaId with {name}", async () =>
                await Produce(Json($"{{\"valueSchemaId\":{await CanarySchemaIdAsync()},\"records\":[{{\"value\":{{\"n\":{value}}}}}]}}")), [BadRequest]);
        }
        yield return new("ingest POST records: a value the canary's schema does not encode", async () =>
            await Produce(Json($"{{\"valueSchemaId\":{await CanarySchemaIdAsync()},\"records\":[{{\"value\":{{\"n\":\"not an int\"}}}}]}}")), [BadRequest]);

        // The binary form: one record, its key, partition and headers in HTTP headers.
        HttpContent Binary(int bytes = 10) => Bytes(new byte[bytes], "application/octet-stream");
        yield return new("ingest POST records (binary): a 9 MB body", () => Produce(Binary(9 * 1024 * 1024)), [TooLarge]);
        yield return new("ingest POST records (binary): a 2 MB record", () => Produce(Binary(2 * 1024 * 1024)), [BadRequest]);
        foreach (var partition in new[] { "abc", "-1", "3", "2147483648", "1.5", "0x1", "" })
        {
            yield return new($"ingest POST records (binary): X-Record-Partition '{partition}'", () =>
                Produce(Binary(), r => r.Headers.TryAddWithoutValidation("X-Record-Partition", partition)), [BadRequest]);
        }
        yield return new("ingest POST records (binary): two X-Record-Partition headers", () =>
            Produce(Binary(), r => r.Headers.TryAddWithoutValidation("X-Record-Partition", ["1", "2"])), [BadRequest]);
        yield return new("ingest POST records (binary): 65 record headers", () => Produce(Binary(), r =>
        {
            for (var i = 0; i < 65; i++)
            {
                r.Headers.TryAddWithoutValidation($"X-Record-Header-h{i}", "v");
            }
        }), [BadRequest]);
        yield return new("ingest POST records (binary): a record header with no name", () =>
            Produce(Binary(), r => r.Headers.TryAddWithoutValidation("X-Record-Header-", "v")), [BadRequest]);
        yield return new("ingest POST records (binary): a 60 KB header (past Kestrel's 32 KB of headers)", () =>
            Produce(Binary(), r => r.Headers.TryAddWithoutValidation("X-Record-Header-big", Payloads.Text(60 * 1024))), [HeadersTooLarge], ServerLevel: true);

        foreach (var (name, segment, server) in Payloads.BadNames())
        {
            yield return new($"ingest POST /v1/topics/{{name with {name}}}/records", () =>
                Ingest(HttpMethod.Post, $"/v1/topics/{segment}/records", Json("""{"records":[{"value":1}]}""")), NameStatuses(server), ServerLevel: server);
        }
        yield return new("ingest POST /v1/topics/{100 KB name}/records", () =>
            Ingest(HttpMethod.Post, $"/v1/topics/{Payloads.Text(100 * 1024)}/records", Json("""{"records":[{"value":1}]}""")), [UriTooLong], ServerLevel: true);
    }

    private async Task<int> CanarySchemaIdAsync()
    {
        var body = await _registry.GetStringAsync($"/subjects/{CanarySubject}/versions/1");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt32();
    }

    // ---- Ingest gRPC: the produce stream and Dapr's publish API ------------------------------------------------------

    private IEnumerable<HostileCase> IngestGrpcCases()
    {
        static ProduceRecord Record(int valueBytes = 1) => new() { Value = ByteString.CopyFrom(new byte[valueBytes]) };

        foreach (var (name, request) in new (string, Func<ProduceRequest>)[]
        {
            ("an empty topic", () => new ProduceRequest { Records = { Record() } }),
            ("a topic with a space", () => new ProduceRequest { Topic = "a b", Records = { Record() } }),
            ("a topic of 100 KB", () => new ProduceRequest { Topic = Payloads.Text(100 * 1024), Records = { Record() } }),
            ("a topic that does not exist", () => new ProduceRequest { Topic = "no-such-topic", Records = { Record() } }),
            ("no records", () => new ProduceRequest { Topic = Canary }),
            ("partition -1", () => new ProduceRequest { Topic = Canary, Partition = -1, Records = { Record() } }),
            ("a record's partition past the topic's", () => new ProduceRequest { Topic = Canary, Records = { new ProduceRecord { Value = ByteString.Empty, Partition = CanaryPartitions } } }),
            ("partition 2^31-1", () => new ProduceRequest { Topic = Canary, Partition = int.MaxValue, Records = { Record() } }),
            ("10,001 records", () => new ProduceRequest { Topic = Canary, Records = { Enumerable.Range(0, 10_001).Select(_ => Record()) } }),
            ("a 2 MB record", () => new ProduceRequest { Topic = Canary, Records = { Record(2 * 1024 * 1024) } }),
            ("a header with no name", () => new ProduceRequest { Topic = Canary, Records = { new ProduceRecord { Headers = { new RecordHeader { Value = ByteString.CopyFromUtf8("v") } } } } }),
            ("65 headers", () => new ProduceRequest
            {
                Topic = Canary,
                Records = { new ProduceRecord { Headers = { Enumerable.Range(0, 65).Select(i => new RecordHeader { Name = $"h{i}" }) } } },
            }),
            ("a producer id without a partition", () => new ProduceRequest { Topic = Canary, ProducerId = 1, BaseSequence = 0, Records = { Record() } }),
            ("a producer id without a base sequence", () => new ProduceRequest { Topic = Canary, ProducerId = 1, Partition = 0, Records = { Record() } }),
            ("producer id -1", () => new ProduceRequest { Topic = Canary, ProducerId = -1, Partition = 0, BaseSequence = 0, Records = { Record() } }),
            ("base sequence -1", () => new ProduceRequest { Topic = Canary, ProducerId = 1, Partition = 0, BaseSequence = -1, Records = { Record() } }),
            ("an idempotent request with a record for another partition", () => new ProduceRequest
            {
                Topic = Canary, ProducerId = 1, Partition = 0, BaseSequence = 0, Records = { new ProduceRecord { Partition = 1 } },
            }),
        })
        {
            yield return new($"ingest gRPC Produce: {name}", () => ProduceStreamAsync(request()), [(int)StatusCode.InvalidArgument, (int)StatusCode.NotFound]);
        }
        yield return new("ingest gRPC Produce: a 9 MB message (past Ingest:MaxRequestBytes)", () =>
            ProduceStreamAsync(new ProduceRequest { Topic = Canary, Records = { Record(9 * 1024 * 1024) } }), [(int)StatusCode.ResourceExhausted]);
        yield return new("ingest gRPC Produce: three bad requests on one stream, each refused", () =>
            ProduceStreamAsync(new ProduceRequest { Topic = "a b", Records = { Record() } }, new ProduceRequest { Topic = Canary },
                new ProduceRequest { Topic = Canary, Partition = -1, Records = { Record() } }), [(int)StatusCode.InvalidArgument]);

        var dapr = new Broker.Contracts.Dapr.Runtime.Dapr.DaprClient(_ingestGrpc);
        foreach (var (name, request, statuses) in new (string, Func<PublishEventRequest>, StatusCode[])[]
        {
            ("no pubsub name", () => new PublishEventRequest { Topic = Canary, Data = ByteString.CopyFromUtf8("{}") }, [StatusCode.InvalidArgument]),
            ("an empty topic", () => new PublishEventRequest { PubsubName = "pubsub", Data = ByteString.CopyFromUtf8("{}") }, [StatusCode.InvalidArgument]),
            ("a topic with '/'", () => new PublishEventRequest { PubsubName = "pubsub", Topic = "a/b" }, [StatusCode.InvalidArgument]),
            ("a topic of 1,000 characters", () => new PublishEventRequest { PubsubName = "pubsub", Topic = Payloads.Text(1_000) }, [StatusCode.InvalidArgument]),
            ("ttlInSeconds 'soon'", () => Publish(("ttlInSeconds", "soon")), [StatusCode.InvalidArgument]),
            ("ttlInSeconds -1", () => Publish(("ttlInSeconds", "-1")), [StatusCode.InvalidArgument]),
            ("ttlInSeconds 0", () => Publish(("ttlInSeconds", "0")), [StatusCode.InvalidArgument]),
            ("ttlInSeconds 2^31", () => Publish(("ttlInSeconds", "2147483648")), [StatusCode.InvalidArgument]),
            ("a 2 MB event (past Ingest:MaxRecordBytes)", () => new PublishEventRequest
            {
                PubsubName = "pubsub", Topic = Canary, Data = ByteString.CopyFrom(new byte[2 * 1024 * 1024]), DataContentType = "application/octet-stream",
            }, [StatusCode.InvalidArgument]),
            ("a 9 MB message (past Ingest:MaxRequestBytes)", () => new PublishEventRequest { PubsubName = "pubsub", Topic = Canary, Data = ByteString.CopyFrom(new byte[9 * 1024 * 1024]) },
                [StatusCode.ResourceExhausted]),
        })
        {
            yield return new($"ingest Dapr PublishEvent: {name}", () => GrpcAsync(o => dapr.PublishEventAsync(request(), o).ResponseAsync), [.. statuses.Select(s => (int)s)]);
        }
        foreach (var (name, request, statuses) in new (string, Func<BulkPublishRequest>, StatusCode[])[]
        {
            ("no entries", () => new BulkPublishRequest { PubsubName = "pubsub", Topic = Canary }, [StatusCode.InvalidArgument]),
            ("no pubsub name", () => Bulk(1, pubsub: ""), [StatusCode.InvalidArgument]),
            ("a topic with braces", () => Bulk(1, topic: "{canary}"), [StatusCode.InvalidArgument]),
            ("an entry with ttlInSeconds 'never'", () =>
            {
                var request = Bulk(2);
                request.Entries[1].Metadata["ttlInSeconds"] = "never";
                return request;
            }, [StatusCode.InvalidArgument]),
            ("300,000 entries (9 MB, past the message limit)", () => Bulk(300_000), [StatusCode.ResourceExhausted]),
        })
        {
            yield return new($"ingest Dapr BulkPublishEvent: {name}", () => GrpcAsync(o => dapr.BulkPublishEventAsync(request(), o).ResponseAsync), [.. statuses.Select(s => (int)s)]);
        }
        yield return new("ingest Dapr BulkPublishEvent: 10,001 entries (past Ingest:MaxRecordsPerRequest): every entry failed, saying why", async () =>
        {
            var answer = await dapr.BulkPublishEventAsync(Bulk(10_001), deadline: DateTime.UtcNow.AddSeconds(30));
            var errors = answer.FailedEntries.Select(e => e.Error).Distinct().ToList();
            return answer.FailedEntries.Count == 10_001 && errors is [{ Length: > 0 } error]
                ? Answer.Grpc(StatusCode.InvalidArgument, error)
                : Answer.Grpc(StatusCode.OK, $"{answer.FailedEntries.Count} of 10,001 entries failed: {string.Join(" | ", errors)}");
        }, [(int)StatusCode.InvalidArgument]);
    }

    private static PublishEventRequest Publish(params (string Key, string Value)[] metadata)
    {
        var request = new PublishEventRequest { PubsubName = "pubsub", Topic = Canary, Data = ByteString.CopyFromUtf8("{}"), DataContentType = "application/json" };
        foreach (var (key, value) in metadata)
        {
            request.Metadata[key] = value;
        }
        return request;
    }

    private static BulkPublishRequest Bulk(int entries, string pubsub = "pubsub", string topic = Canary)
    {
        var request = new BulkPublishRequest { PubsubName = pubsub, Topic = topic };
        request.Entries.AddRange(Enumerable.Range(0, entries).Select(i => new BulkPublishRequestEntry
        {
            EntryId = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Event = ByteString.CopyFromUtf8("1"),
            ContentType = "application/json",
        }));
        return request;
    }

    private async Task<Answer> ProduceStreamAsync(params ProduceRequest[] requests)
    {
        try
        {
            using var stream = new ProduceService.ProduceServiceClient(_ingestGrpc).Produce(deadline: DateTime.UtcNow.AddSeconds(30));
            var id = 0UL;
            try
            {
                foreach (var request in requests)
                {
                    request.RequestId = ++id;
                    await stream.RequestStream.WriteAsync(request);
                }
                await stream.RequestStream.CompleteAsync();
            }
            catch (RpcException)
            {
                // The service ended the call while a message was on its way (one past its size limit): its status is read below.
            }
            var answers = new List<ProduceResponse>();
            while (await stream.ResponseStream.MoveNext(CancellationToken.None))
            {
                answers.Add(stream.ResponseStream.Current);
            }
            return Worst(answers.Count == requests.Length ? null : $"{answers.Count} answers to {requests.Length} requests",
                answers.Select(a => ((StatusCode)a.StatusCode, a.StatusMessage)));
        }
        catch (RpcException ex)
        {
            return Answer.Grpc(ex.StatusCode, ex.Status.Detail);
        }
    }
}
