using System.Text;
using Broker.Contracts.Batches;
using Broker.Contracts.Storage;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Security.Tests.Hostile;

public sealed partial class HostileInputTests
{
    private const int BadRequest = 400;
    private const int NotFound = 404;
    private const int TooLarge = 413;
    private const int UnsupportedType = 415;
    private const int UriTooLong = 414;
    private const string LogServiceName = "broker.storage.v1.LogService";

    /// <summary>
    /// The usual broken bodies of a JSON endpoint whose body is an object with <paramref name="field"/> in it:
    /// name, the body (made when sent) and the statuses that count.
    /// </summary>
    private static IEnumerable<(string Name, Func<HttpContent> Body, int[] Statuses)> BrokenBodies(string valid, string field, bool mediaTypeChecked = true)
    {
        yield return ("JSON nested 10,000 arrays deep", () => Bytes(Payloads.DeepArrays()), [BadRequest]);
        yield return ("JSON nested 10,000 objects deep", () => Bytes(Payloads.DeepObjects()), [BadRequest]);
        yield return ($"'{field}' nested 10,000 arrays deep", () => Json(Payloads.DeepValue(field)), [BadRequest]);
        yield return ("truncated JSON", () => Bytes(Payloads.Truncated(valid)), [BadRequest]);
        yield return ($"'{field}' with bytes that are not UTF-8", () => Bytes(Payloads.BadUtf8(field)), [BadRequest]);
        yield return ("bytes that are not JSON", () => Bytes(Payloads.Garbage()), [BadRequest]);
        yield return ("an array for the object", () => Json("[]"), [BadRequest]);
        yield return ("a string for the object", () => Json("\"x\""), [BadRequest]);
        yield return ("a number for the object", () => Json("42"), [BadRequest]);
        if (mediaTypeChecked)
        {
            // 415; or, where a path also takes other methods, routing finds no endpoint for a body of that type: 404 saying so.
            yield return ("JSON sent as text/plain", () => new StringContent(valid, Encoding.UTF8, "text/plain"), [UnsupportedType, NotFound]);
        }
        yield return ("a 40 MB body", () => Bytes(Payloads.Filled($"{{\"{field}\":\"", Payloads.PastKestrelBodyLimit, "\"}")), [TooLarge]);
    }

    // ---- Storage REST: topics and ACLs --------------------------------------------------------------------------

    private IEnumerable<HostileCase> StorageRestCases()
    {
        foreach (var (name, body, statuses) in BrokenBodies("""{"partitions":3,"retentionMs":60000}""", "partitions"))
        {
            yield return new($"storage PUT /v1/topics/{{t}}: {name}", () => Storage(HttpMethod.Put, $"/v1/topics/{Fresh()}", body()), statuses);
        }
        yield return new("storage PUT /v1/topics/{t}: a 100 KB body (past Storage:MaxRequestBytes, 64 KiB)", () =>
            Storage(HttpMethod.Put, $"/v1/topics/{Fresh()}", Json($"{{\"schemaSubject\":\"{Payloads.Text(100 * 1024)}\"}}")), [TooLarge]);
        var fields = Payloads.BadInts().Select(n => (Field: "partitions", n.Name, n.Json))
            .Concat([("partitions", "0", "0"), ("partitions", "1025 (past 1024)", "1025")])
            .Concat([("retentionMs", "-2", "-2"), ("retentionMs", "999", "999"), ("retentionMs", "2^63", "9223372036854775808"), ("retentionMs", "1e400", "1e400")])
            .Concat([("retentionBytes", "-2", "-2"), ("retentionBytes", "1023", "1023"), ("hotBytes", "0", "0"), ("hotMs", "999", "999")])
            .Concat([("messageTtlMs", "0", "0"), ("messageTtlMs", "past 100 years", "4000000000000"), ("maxDeliveryAttempts", "0", "0"), ("maxDeliveryAttempts", "1001", "1001")])
            .Concat(Payloads.BadNamesInJson().Select(n => ("deadLetterTopic", n.Name, n.Json)))
            .Concat([("schemaSubject", "empty", "\"\""), ("schemaSubject", "300 characters", $"\"{Payloads.Text(300)}\""), ("schemaSubject", "a control character", "\"a\\u0007b\"")])
            .Concat([("compression", "gzip", "\"gzip\""), ("compression", "a number", "7"), ("schemaValidation", "\"yes\"", "\"yes\"")]);
        foreach (var (field, name, json) in fields)
        {
            yield return new($"storage PUT /v1/topics/{{t}}: {field} {name}", () => Storage(HttpMethod.Put, $"/v1/topics/{Fresh()}", Json($"{{\"{field}\":{json}}}")), [BadRequest]);
        }
        yield return new("storage PUT /v1/topics/{t}: its own dead-letter topic", () =>
        {
            var topic = Fresh();
            return Storage(HttpMethod.Put, $"/v1/topics/{topic}", Json($"{{\"deadLetterTopic\":\"{topic}\"}}"));
        }, [BadRequest]);
        yield return new("storage PUT /v1/topics/canary: fewer partitions", () => Storage(HttpMethod.Put, $"/v1/topics/{Canary}", Json("""{"partitions":1}""")), [409]);

        foreach (var (name, segment, server) in Payloads.BadNames())
        {
            yield return new($"storage PUT /v1/topics/{{name with {name}}}", () => Storage(HttpMethod.Put, $"/v1/topics/{segment}", Json("{}")), NameStatuses(server), ServerLevel: server);
            yield return new($"storage GET /v1/topics/{{name with {name}}}", () => Storage(HttpMethod.Get, $"/v1/topics/{segment}"), NameStatuses(server), ServerLevel: server);
            yield return new($"storage DELETE /v1/topics/{{name with {name}}}", () => Storage(HttpMethod.Delete, $"/v1/topics/{segment}"), NameStatuses(server), ServerLevel: server);
        }
        var hundredKb = Payloads.Text(100 * 1024);
        yield return new("storage PUT /v1/topics/{100 KB name}", () => Storage(HttpMethod.Put, $"/v1/topics/{hundredKb}", Json("{}")), [UriTooLong], ServerLevel: true);
        yield return new("storage GET /v1/topics/{100 KB name}", () => Storage(HttpMethod.Get, $"/v1/topics/{hundredKb}"), [UriTooLong], ServerLevel: true);

        // ACLs: the body of POST and DELETE, and the filters of GET.
        const string valid = """{"principal":"carol","resource":{"type":"topic","name":"orders","pattern":"literal"},"operations":["read"],"permission":"allow"}""";
        foreach (var (name, body, statuses) in BrokenBodies(valid, "principal"))
        {
            yield return new($"storage POST /v1/acls: {name}", () => Storage(HttpMethod.Post, "/v1/acls", body()), statuses);
        }
        foreach (var (name, json) in BadAcls())
        {
            yield return new($"storage POST /v1/acls: {name}", () => Storage(HttpMethod.Post, "/v1/acls", Json(json)), [BadRequest]);
        }
        yield return new("storage POST /v1/acls: 1,000,000 operations (past Storage:MaxRequestBytes)", () =>
            Storage(HttpMethod.Post, "/v1/acls", Bytes(Payloads.Array("\"read\"", 1_000_000, """{"principal":"carol","resource":{"type":"topic","name":"orders"},"operations":""", "}"))), [TooLarge]);
        yield return new("storage POST /v1/acls: 5,000 operations", () =>
            Storage(HttpMethod.Post, "/v1/acls", Bytes(Payloads.Array("\"read\"", 5_000, """{"principal":"carol","resource":{"type":"topic","name":"orders"},"operations":""", "}"))), [BadRequest]);
        yield return new("storage DELETE /v1/acls: JSON nested 10,000 arrays deep", () => Storage(HttpMethod.Delete, "/v1/acls", Bytes(Payloads.DeepArrays())), [BadRequest]);
        yield return new("storage DELETE /v1/acls: an unknown operation", () => Storage(HttpMethod.Delete, "/v1/acls", Json(valid.Replace("\"read\"", "\"fly\"", StringComparison.Ordinal))), [BadRequest]);
        yield return new("storage DELETE /v1/acls: 8 operations", () => Storage(HttpMethod.Delete, "/v1/acls", Json(valid.Replace("[\"read\"]", EightOperations, StringComparison.Ordinal))), [BadRequest]);
        yield return new("storage DELETE /v1/acls: an ACL nobody added", () => Storage(HttpMethod.Delete, "/v1/acls", Json(valid)), [NotFound]);
        foreach (var query in new[] { "resourceType=queue", "operation=fly", "permission=maybe", "pattern=regex&resourceName=orders", "pattern=match", "resourceType=1", "operation=" + Payloads.Text(1_000) })
        {
            yield return new($"storage GET /v1/acls?{(query.Length > 40 ? query[..40] + "…" : query)}", () => Storage(HttpMethod.Get, "/v1/acls?" + query), [BadRequest]);
        }
    }

    private const string EightOperations = """["read","write","create","delete","alter","describe","all","read"]""";

    /// <summary>ACL bindings no field rule allows: name → the body.</summary>
    private static IEnumerable<(string Name, string Json)> BadAcls()
    {
        static string Binding(string principal = "\"carol\"", string type = "\"topic\"", string name = "\"orders\"", string pattern = "\"literal\"",
            string operations = "[\"read\"]", string permission = "\"allow\"") =>
            $$"""{"principal":{{principal}},"resource":{"type":{{type}},"name":{{name}},"pattern":{{pattern}}},"operations":{{operations}},"permission":{{permission}}}""";

        yield return ("an unknown resource type", Binding(type: "\"queue\""));
        yield return ("a resource type as a number", Binding(type: "1"));
        yield return ("an unknown operation", Binding(operations: "[\"fly\"]"));
        yield return ("8 operations", Binding(operations: EightOperations));
        yield return ("no operations", Binding(operations: "[]"));
        yield return ("operations as a string", Binding(operations: "\"read\""));
        yield return ("an operation as a number", Binding(operations: "[3]"));
        yield return ("an unknown pattern", Binding(pattern: "\"regex\""));
        yield return ("an unknown permission", Binding(permission: "\"maybe\""));
        yield return ("the cluster under another name", Binding(type: "\"cluster\"", name: "\"other\""));
        yield return ("a prefixed '*'", Binding(name: "\"*\"", pattern: "\"prefixed\""));
        yield return ("a resource name of 1,000 characters", Binding(name: $"\"{Payloads.Text(1_000)}\""));
        yield return ("a resource name with a control character", Binding(name: "\"a\\u0000b\""));
        yield return ("an empty resource name", Binding(name: "\"\""));
        yield return ("no resource", """{"principal":"carol","operations":["read"]}""");
        yield return ("no principal", """{"resource":{"type":"topic","name":"orders"},"operations":["read"]}""");
        yield return ("an empty principal", Binding(principal: "\"\""));
        yield return ("a principal with a space", Binding(principal: "\"carol smith\""));
        yield return ("a principal with a control character", Binding(principal: "\"carol\\u0001\""));
        yield return ("a principal of 1,000 characters", Binding(principal: $"\"{Payloads.Text(1_000)}\""));
        yield return ("a principal as a number", Binding(principal: "42"));
        yield return ("the broker's service principal", Binding(principal: "\"broker-service\""));
        yield return ("the anonymous principal", Binding(principal: "\"anonymous\""));
    }

    // ---- Storage gRPC: the log --------------------------------------------------------------------------------------

    private IEnumerable<HostileCase> StorageGrpcCases()
    {
        var log = new LogService.LogServiceClient(_storageGrpc);

        Task<Answer> Append(string topic, int partition, byte[] batch) =>
            GrpcAsync(o => log.AppendAsync(new AppendRequest { Topic = topic, Partition = partition, Batch = ByteString.CopyFrom(batch) }, o).ResponseAsync);

        foreach (var (name, topic, partition) in new[]
        {
            ("a negative partition", Canary, -1), ("partition 2^31-1", Canary, int.MaxValue), ("a partition past the topic's", Canary, CanaryPartitions),
            ("an empty topic", "", 0), ("a topic that does not exist", "no-such-topic", 0), ("a topic of 100 KB", Payloads.Text(100 * 1024), 0),
            ("a topic with braces", "{canary}", 0), ("a topic with a NUL", "canary\0", 0),
        })
        {
            yield return new($"storage gRPC Append: {name}", () => Append(topic, partition, Batch()), [(int)StatusCode.NotFound, (int)StatusCode.InvalidArgument]);
        }
        foreach (var (name, batch) in BadBatches())
        {
            yield return new($"storage gRPC Append: {name}", () => Append(Canary, 0, batch()), [(int)StatusCode.InvalidArgument]);
        }
        yield return new("storage gRPC Append: a batch of 9 MB (past Storage:MaxBatchBytes, 8 MB)", () => Append(Canary, 0, Batch(new byte[9 * 1024 * 1024])),
            [(int)StatusCode.InvalidArgument]);
        yield return new("storage gRPC Append: a message of 20 MB (past the gRPC limit)", () => Append(Canary, 0, new byte[20 * 1024 * 1024]),
            [(int)StatusCode.ResourceExhausted]);
        yield return new("storage gRPC Append: 100,001 records (past Storage:MaxBatchRecords)", () =>
        {
            using var builder = new RecordBatchBuilder();
            for (var i = 0; i < 100_001; i++)
            {
                builder.Add("x"u8, 1);
            }
            return Append(Canary, 0, builder.Build());
        }, [(int)StatusCode.InvalidArgument]);
        yield return new("storage gRPC AppendStream: a refusal per bad request, the stream going on", () => AppendStreamAsync(
            new AppendRequest { Topic = Canary, Partition = -1, Batch = ByteString.CopyFrom(Batch()), RequestId = 1 },
            new AppendRequest { Topic = Canary, Partition = 0, Batch = ByteString.Empty, RequestId = 2 },
            new AppendRequest { Topic = "no-such-topic", Partition = 0, Batch = ByteString.CopyFrom(Batch()), RequestId = 3 }),
            [(int)StatusCode.InvalidArgument, (int)StatusCode.NotFound]);

        foreach (var (name, partition, offset) in new[]
        {
            ("a negative partition", -1, 0L), ("a partition past the topic's", CanaryPartitions, 0L), ("a negative offset", 0, -1L),
            ("an offset past the end", 0, 1_000L), ("offset 2^63-1", 0, long.MaxValue), ("offset -2^63", 0, long.MinValue),
        })
        {
            yield return new($"storage gRPC Read: {name}", () => GrpcAsync(o => log.ReadAsync(new ReadRequest { Topic = Canary, Partition = partition, Offset = offset, MaxBytes = 1024 }, o).ResponseAsync),
                [(int)StatusCode.NotFound, (int)StatusCode.OutOfRange]);
            yield return new($"storage gRPC Tail: {name}", () => GrpcAsync(async o =>
            {
                using var tail = log.Tail(new TailRequest { Topic = Canary, Partition = partition, Offset = offset }, o);
                await tail.ResponseStream.MoveNext(o.CancellationToken);
            }), [(int)StatusCode.NotFound, (int)StatusCode.OutOfRange]);
        }
        yield return new("storage gRPC Read: a topic that does not exist", () => GrpcAsync(o => log.ReadAsync(new ReadRequest { Topic = "no-such-topic" }, o).ResponseAsync),
            [(int)StatusCode.NotFound]);
        yield return new("storage gRPC WaitForData: a negative partition", () =>
            GrpcAsync(o => log.WaitForDataAsync(new WaitForDataRequest { Topic = Canary, Partition = -1, MaxWaitMs = int.MaxValue }, o).ResponseAsync), [(int)StatusCode.NotFound]);
        yield return new("storage gRPC WaitForData: a topic that does not exist", () =>
            GrpcAsync(o => log.WaitForDataAsync(new WaitForDataRequest { Topic = "no-such-topic", MaxWaitMs = int.MaxValue }, o).ResponseAsync), [(int)StatusCode.NotFound]);
        yield return new("storage gRPC FindOffset: a negative partition", () =>
            GrpcAsync(o => log.FindOffsetAsync(new FindOffsetRequest { Topic = Canary, Partition = -1, Timestamp = long.MinValue }, o).ResponseAsync), [(int)StatusCode.NotFound]);
        yield return new("storage gRPC FindOffset: a topic of 100 KB", () =>
            GrpcAsync(o => log.FindOffsetAsync(new FindOffsetRequest { Topic = Payloads.Text(100 * 1024) }, o).ResponseAsync), [(int)StatusCode.NotFound, (int)StatusCode.InvalidArgument]);
        yield return new("storage gRPC DescribeTopic: an empty topic", () => GrpcAsync(o => log.DescribeTopicAsync(new DescribeTopicRequest(), o).ResponseAsync),
            [(int)StatusCode.NotFound, (int)StatusCode.InvalidArgument]);
        yield return new("storage gRPC DescribeTopic: '..'", () => GrpcAsync(o => log.DescribeTopicAsync(new DescribeTopicRequest { Topic = ".." }, o).ResponseAsync),
            [(int)StatusCode.NotFound, (int)StatusCode.InvalidArgument]);

        foreach (var (name, request) in new (string, Func<EnsureTopicRequest>)[]
        {
            ("an empty topic", () => new EnsureTopicRequest { Partitions = 1 }),
            ("a topic with a space", () => new EnsureTopicRequest { Topic = "a b", Partitions = 1 }),
            ("a topic of 1,000 characters", () => new EnsureTopicRequest { Topic = Payloads.Text(1_000), Partitions = 1 }),
            ("-1 partitions", () => new EnsureTopicRequest { Topic = Fresh(), Partitions = -1 }),
            ("2^31-1 partitions", () => new EnsureTopicRequest { Topic = Fresh(), Partitions = int.MaxValue }),
            ("1025 partitions", () => new EnsureTopicRequest { Topic = Fresh(), Partitions = 1025 }),
            ("retention_ms -5", () => new EnsureTopicRequest { Topic = Fresh(), Partitions = 1, RetentionMs = -5 }),
            ("retention_ms 2^63-1", () => new EnsureTopicRequest { Topic = Fresh(), Partitions = 1, RetentionMs = long.MaxValue }),
        })
        {
            yield return new($"storage gRPC EnsureTopic: {name}", () => GrpcAsync(o => log.EnsureTopicAsync(request(), o).ResponseAsync), [(int)StatusCode.InvalidArgument]);
        }

        foreach (var (name, request, status) in new (string, Func<CommitOffsetsRequest>, StatusCode)[]
        {
            ("a group with a space", () => Commit("a b", Canary, (0, 0)), StatusCode.InvalidArgument),
            ("an empty group", () => Commit("", Canary, (0, 0)), StatusCode.InvalidArgument),
            ("a group of 1,000 characters", () => Commit(Payloads.Text(1_000), Canary, (0, 0)), StatusCode.InvalidArgument),
            ("a topic that does not exist", () => Commit(CanaryGroup, "no-such-topic", (0, 0)), StatusCode.NotFound),
            ("a negative partition", () => Commit(CanaryGroup, Canary, (-1, 0)), StatusCode.NotFound),
            ("a partition past the topic's", () => Commit(CanaryGroup, Canary, (CanaryPartitions, 0)), StatusCode.NotFound),
            ("a negative offset", () => Commit(CanaryGroup, Canary, (0, -5)), StatusCode.InvalidArgument),
            ("offset -2^63", () => Commit(CanaryGroup, Canary, (0, long.MinValue)), StatusCode.InvalidArgument),
            ("5 KB of metadata (past Storage:MaxOffsetMetadataBytes)", () => Commit(CanaryGroup, Canary, (0, 0), Payloads.Text(5 * 1024)), StatusCode.InvalidArgument),
            ("1,000,000 offsets, the last for a partition past the topic's", () =>
            {
                var request = Commit(CanaryGroup, Canary);
                request.Offsets.AddRange(Enumerable.Range(0, 1_000_000).Select(i => new GroupOffset { Partition = i == 999_999 ? CanaryPartitions : 0, Offset = 2 }));
                return request;
            }, StatusCode.NotFound),
        })
        {
            yield return new($"storage gRPC CommitOffsets: {name}", () => GrpcAsync(o => log.CommitOffsetsAsync(request(), o).ResponseAsync), [(int)status]);
        }
        yield return new("storage gRPC FetchOffsets: a group with braces", () =>
            GrpcAsync(o => log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = "{g}", Topic = Canary }, o).ResponseAsync), [(int)StatusCode.InvalidArgument]);
        yield return new("storage gRPC FetchOffsets: a topic that does not exist", () =>
            GrpcAsync(o => log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = CanaryGroup, Topic = "no-such-topic" }, o).ResponseAsync), [(int)StatusCode.NotFound]);

        // A raw message with the batch field as a varint: protobuf parses it (an unknown field), the batch is empty.
        yield return new("storage gRPC Append: the batch field as a varint", () =>
            RawUnaryAsync(_storageGrpc, LogServiceName, "Append", [0x0A, 0x06, .. "canary"u8, 0x18, 0x05]), [(int)StatusCode.InvalidArgument]);
    }

    /// <summary>The statuses that count for a name in a URL path: our code's (400 naming the rule, or 404), or Kestrel's bare 400.</summary>
    private static int[] NameStatuses(bool serverLevel) => serverLevel ? [BadRequest] : [BadRequest, NotFound];

    private static CommitOffsetsRequest Commit(string group, string topic, params (int Partition, long Offset)[] offsets) => Commit(group, topic, offsets, "");

    private static CommitOffsetsRequest Commit(string group, string topic, (int Partition, long Offset) offset, string metadata) => Commit(group, topic, [offset], metadata);

    private static CommitOffsetsRequest Commit(string group, string topic, (int Partition, long Offset)[] offsets, string metadata)
    {
        var request = new CommitOffsetsRequest { Group = group, Topic = topic };
        request.Offsets.AddRange(offsets.Select(o => new GroupOffset { Partition = o.Partition, Offset = o.Offset, Metadata = metadata }));
        return request;
    }

    private async Task<Answer> AppendStreamAsync(params AppendRequest[] requests)
    {
        using var stream = new LogService.LogServiceClient(_storageGrpc).AppendStream(deadline: DateTime.UtcNow.AddSeconds(30));
        foreach (var request in requests)
        {
            await stream.RequestStream.WriteAsync(request);
        }
        await stream.RequestStream.CompleteAsync();
        var answers = new List<AppendResponse>();
        while (await stream.ResponseStream.MoveNext(CancellationToken.None))
        {
            answers.Add(stream.ResponseStream.Current);
        }
        return Worst(answers.Count == requests.Length ? null : $"{answers.Count} answers to {requests.Length} requests",
            answers.Select(a => ((StatusCode)a.StatusCode, a.StatusMessage)));
    }

    /// <summary>
    /// One answer for a stream of per-request refusals: the first that is not a clear refusal (or OK), else the first;
    /// the detail lists them all.
    /// </summary>
    private static Answer Worst(string? problem, IEnumerable<(StatusCode Status, string Message)> answers)
    {
        var all = answers.ToList();
        if (problem is not null || all.Count == 0)
        {
            return Answer.Grpc(StatusCode.Unknown, problem ?? "no answer");
        }
        var detail = string.Join(" | ", all.Select(a => $"{a.Status}: {a.Message}"));
        var bad = all.FirstOrDefault(a => a.Status is StatusCode.OK or StatusCode.Internal or StatusCode.Unknown || string.IsNullOrWhiteSpace(a.Message));
        return Answer.Grpc(bad == default ? all[0].Status : bad.Status, bad == default || !string.IsNullOrWhiteSpace(bad.Message) ? detail : "");
    }

    private static byte[] Batch(byte[]? value = null)
    {
        using var builder = new RecordBatchBuilder();
        builder.Add(value ?? "x"u8.ToArray(), 1);
        return builder.Build();
    }

    /// <summary>Batches that are not what they say: name → the bytes (made when sent).</summary>
    private static IEnumerable<(string Name, Func<byte[]> Batch)> BadBatches()
    {
        static byte[] Edited(Action<byte[]> edit, bool fixCrc = true)
        {
            var batch = Batch("hello"u8.ToArray());
            edit(batch);
            if (fixCrc)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(batch.AsSpan(RecordBatchLayout.CrcPosition),
                    Crc32C.Compute(batch.AsSpan(RecordBatchLayout.CrcCoveredStart)));
            }
            return batch;
        }

        static void Int32(byte[] batch, int position, int value) => System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(batch.AsSpan(position), value);

        yield return ("an empty batch", () => []);
        yield return ("10 bytes", () => new byte[10]);
        yield return ("a corrupt CRC", () => Edited(b => b[^1] ^= 0xFF, fixCrc: false));
        yield return ("a wrong length field", () => Edited(b => Int32(b, RecordBatchLayout.BatchLengthPosition, b.Length), fixCrc: false));
        yield return ("an unknown format version", () => Edited(b => b[RecordBatchLayout.MagicPosition] = 9, fixCrc: false));
        yield return ("an unknown codec", () => Edited(b => b[RecordBatchLayout.AttributesPosition] = 7));
        yield return ("zero records", () => Edited(b => Int32(b, RecordBatchLayout.RecordCountPosition, 0)));
        yield return ("a record count of 1,000,000 over one record", () => Edited(b => Int32(b, RecordBatchLayout.RecordCountPosition, 1_000_000)));
        yield return ("a negative record count", () => Edited(b => Int32(b, RecordBatchLayout.RecordCountPosition, -1)));
        yield return ("a records length of 2^31-1", () => Edited(b => Int32(b, RecordBatchLayout.RecordsLengthPosition, int.MaxValue)));
        yield return ("zstd claiming 1 GiB uncompressed", () => Edited(b =>
        {
            b[RecordBatchLayout.AttributesPosition] = (byte)CompressionCodec.Zstd;
            Int32(b, RecordBatchLayout.RecordsLengthPosition, 1 << 30);
        }));
        yield return ("lz4 that does not decompress", () => Edited(b =>
        {
            b[RecordBatchLayout.AttributesPosition] = (byte)CompressionCodec.Lz4;
            Int32(b, RecordBatchLayout.RecordsLengthPosition, 1 << 20);
        }));
        yield return ("a record whose length runs past the batch", () => Edited(b => b[RecordBatchLayout.HeaderSize] = 0x7E));
        yield return ("a max timestamp that is not the records'", () => Edited(b =>
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(RecordBatchLayout.MaxTimestampPosition), long.MaxValue)));
        yield return ("an idempotent batch with a negative base sequence", () => Edited(b =>
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(RecordBatchLayout.ProducerIdPosition), 42);
            Int32(b, RecordBatchLayout.BaseSequencePosition, -5);
        }));
        yield return ("random bytes of 1 MB", RandomMegabyte);
    }

    private static byte[] RandomMegabyte()
    {
        var bytes = new byte[1024 * 1024];
        new Random(7).NextBytes(bytes);
        return bytes;
    }
}
