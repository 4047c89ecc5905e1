using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace Broker.Security.Tests.Hostile;

/// <summary>
/// Hostile input against every API of Storage, Ingest, Delivery and the schema registry, REST and gRPC, sent by the
/// superuser so that every refusal is about the input, never the rights. The cases are tables (one per API, in the
/// partial files beside this one); each fact runs one table and collects every failure into one message. A case
/// passes when its answer is a clear refusal (<see cref="HostileCase.Fault"/>: a 4xx whose problem details or Confluent
/// body say what is wrong, or a gRPC status other than INTERNAL and UNKNOWN with a detail, never longer than 64 KiB)
/// and every service still answers /alive after it. Around each table: nothing written (topics, ACLs, the canary
/// partitions' end offsets, a group's committed offsets, apps, replays, subjects, config and mode are as before),
/// every service answers /health and a normal request, and the process's GC heap and working set grew by less than
/// 512 MiB, over the table and since the broker started (every service runs in this process).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed partial class HostileInputTests(RedisFixture redis, SharedBroker shared) : IAsyncLifetime, IClassFixture<SharedBroker>
{
    /// <summary>A topic with records in each partition: its end offsets say whether anything was appended.</summary>
    private const string Canary = "canary";
    private const int CanaryPartitions = 3;
    private const string CanaryGroup = "canary-group";
    private const string CanarySubject = "canary-value";
    private const string CanarySchema = """{"type":"record","name":"Canary","fields":[{"name":"n","type":"int"}]}""";

    /// <summary>Where the normal requests after each table go, so that they leave the canary as it is.</summary>
    private const string Alive = "alive";
    private const string AliveGroup = "alive-group";

    private const string RegistryType = "application/vnd.schemaregistry.v1+json";
    private const long MemoryBound = 512L << 20;

    private static readonly Marshaller<byte[]> s_raw = Marshallers.Create(bytes => bytes, bytes => bytes);
    private static int s_caseNumber;

    private SecureBroker _broker = null!;
    private HttpClient _storage = null!;
    private HttpClient _ingest = null!;
    private HttpClient _delivery = null!;
    private HttpClient _registry = null!;
    private GrpcChannel _storageGrpc = null!;
    private GrpcChannel _ingestGrpc = null!;
    private GrpcChannel _deliveryGrpc = null!;

    public async Task InitializeAsync()
    {
        _broker = await shared.StartAsync(redis, "hostile", SetUpCanaryAsync);
        (_storage, _ingest, _delivery, _registry) = Clients(_broker);
        _storageGrpc = SecureBroker.Channel(_broker.StorageGrpc, SecureBroker.AdminKey);
        _ingestGrpc = SecureBroker.Channel(_broker.IngestGrpc, SecureBroker.AdminKey);
        _deliveryGrpc = SecureBroker.Channel(_broker.DeliveryGrpc, SecureBroker.AdminKey);
    }

    public Task DisposeAsync()
    {
        foreach (var disposable in new IDisposable[] { _storage, _ingest, _delivery, _registry, _storageGrpc, _ingestGrpc, _deliveryGrpc })
        {
            disposable.Dispose();
        }
        return Task.CompletedTask;
    }

    /// <summary>The superuser's REST clients of Storage, Ingest, Delivery and the registry.</summary>
    private static (HttpClient Storage, HttpClient Ingest, HttpClient Delivery, HttpClient Registry) Clients(SecureBroker broker)
    {
        var clients = (SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey), SecureBroker.Http(broker.IngestHttp, SecureBroker.AdminKey),
            SecureBroker.Http(broker.DeliveryHttp, SecureBroker.AdminKey), SecureBroker.Http(broker.Registry, SecureBroker.AdminKey));
        foreach (var http in new[] { clients.Item1, clients.Item2, clients.Item3, clients.Item4 })
        {
            // Large bodies: the server's refusal comes before the body is sent, but a loaded machine is slow.
            http.Timeout = TimeSpan.FromSeconds(60);
        }
        return clients;
    }

    /// <summary>
    /// What every table finds in place: a topic with records in each partition (and its dead-letter topic, which Delivery
    /// would otherwise make when a group starts, as if a case had), a group's committed offset, a subject, an app and a
    /// finished replay; and the topic the normal requests after each table use.
    /// </summary>
    private static async Task SetUpCanaryAsync(SecureBroker broker)
    {
        var (storage, ingest, delivery, registry) = Clients(broker);
        using (storage)
        using (ingest)
        using (delivery)
        using (registry)
        using (var storageGrpc = SecureBroker.Channel(broker.StorageGrpc, SecureBroker.AdminKey))
        {
            foreach (var (topic, partitions) in new[] { (Canary, CanaryPartitions), (Canary + ".dlq", CanaryPartitions), (Alive, 1), (Alive + ".dlq", 1) })
            {
                await Ok(storage.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions }));
            }
            for (var p = 0; p < CanaryPartitions; p++)
            {
                await Ok(ingest.PostAsJsonAsync($"/v1/topics/{Canary}/records", new { records = new[] { new { value = "first", partition = p }, new { value = "second", partition = p } } }));
            }
            await new LogService.LogServiceClient(storageGrpc).CommitOffsetsAsync(new CommitOffsetsRequest
            {
                Group = CanaryGroup,
                Topic = Canary,
                Offsets = { new GroupOffset { Partition = 0, Offset = 1, Metadata = "canary" } },
            });
            await Ok(registry.PostAsync($"/subjects/{CanarySubject}/versions", RegistryJson(JsonSerializer.Serialize(new { schema = CanarySchema }))));
            await Ok(delivery.PutAsJsonAsync("/v1/apps/canary-app", new
            {
                url = "http://127.0.0.1:9",
                subscriptions = new[] { new { pubsubname = "pubsub", topic = Canary, route = "/orders" } },
            }));
            await Ok(delivery.PostAsJsonAsync("/v1/replays", new { topic = Canary, target = new { verify = true } }));
        }
    }

    [Fact]
    public void The_tables_hold_at_least_200_cases()
    {
        var counts = Tables().Select(t => (t.Name, Count: t.Cases().Count())).ToList();
        var total = counts.Sum(c => c.Count);
        Assert.True(total >= 200, $"{total} cases: {string.Join(", ", counts.Select(c => $"{c.Name} {c.Count}"))}");
    }

    [Fact]
    public Task Storage_topics_and_acls_REST() => RunAsync(StorageRestCases());

    [Fact]
    public Task Storage_log_gRPC() => RunAsync(StorageGrpcCases());

    [Fact]
    public Task Ingest_REST() => RunAsync(IngestRestCases());

    [Fact]
    public Task Ingest_gRPC_and_Dapr_publish() => RunAsync(IngestGrpcCases());

    [Fact]
    public Task Delivery_groups_REST() => RunAsync(DeliveryGroupCases());

    [Fact]
    public Task Delivery_apps_and_replays_REST() => RunAsync(DeliveryAppAndReplayCases());

    [Fact]
    public Task Delivery_gRPC() => RunAsync(DeliveryGrpcCases());

    [Fact]
    public Task Schema_registry() => RunAsync(RegistryCases());

    /// <summary>
    /// Request messages that are not protobuf (cut short, a length past their end, a string that is not UTF-8) never reach
    /// our code: Grpc.AspNetCore parses a message before any interceptor runs and answers UNKNOWN ("Exception was thrown
    /// by handler"; gRPC's own table of status codes says INTERNAL for a request that does not parse). Not in the tables,
    /// whose cases must not be answered either way; here they must be refused with nothing written and every service alive.
    /// </summary>
    [Fact]
    public Task Messages_that_are_not_protobuf_are_refused_by_gRPC_itself() => RunAsync(
    [
        new("storage gRPC DescribeTopic: a message cut short", () => RawUnaryAsync(_storageGrpc, LogServiceName, "DescribeTopic", [0x0A, 0x10, (byte)'c', (byte)'a'])),
        new("storage gRPC DescribeTopic: a topic that is not UTF-8", () => RawUnaryAsync(_storageGrpc, LogServiceName, "DescribeTopic", [0x0A, 0x03, 0xFF, 0xFE, 0xC3])),
        new("storage gRPC Read: a length past the message", () => RawUnaryAsync(_storageGrpc, LogServiceName, "Read", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, (byte)'c'])),
        new("storage gRPC CommitOffsets: a varint that never ends", () => RawUnaryAsync(_storageGrpc, LogServiceName, "CommitOffsets", [0x1A, 0x0B, 0x08, .. Enumerable.Repeat((byte)0xFF, 10)])),
        new("delivery gRPC Subscribe: a message cut short", () => RawSubscribeAsync([0x0A, 0x20, 0x0A, 0x05, (byte)'c'])),
    ], answer => answer is { Shape: AnswerShape.Grpc, Code: (int)StatusCode.Unknown or (int)StatusCode.Internal or (int)StatusCode.InvalidArgument, Body.Length: > 0 }
        ? null
        : "expected gRPC's own refusal (UNKNOWN or INTERNAL, or INVALID_ARGUMENT) with a detail");

    private IEnumerable<(string Name, Func<IEnumerable<HostileCase>> Cases)> Tables() =>
    [
        ("storage REST", StorageRestCases), ("storage gRPC", StorageGrpcCases), ("ingest REST", IngestRestCases), ("ingest gRPC", IngestGrpcCases),
        ("delivery groups", DeliveryGroupCases), ("delivery apps and replays", DeliveryAppAndReplayCases), ("delivery gRPC", DeliveryGrpcCases),
        ("registry", RegistryCases),
    ];

    private async Task RunAsync(IEnumerable<HostileCase> table, Func<Answer, string?>? verdict = null)
    {
        var cases = table.ToList();
        var (heapBefore, workingSetBefore) = Memory();
        var before = await SnapshotAsync();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        foreach (var c in cases)
        {
            try
            {
                var answer = await c.Send();
                if ((verdict ?? c.Fault)(answer) is { } fault)
                {
                    failures.Add($"{c.Name}: {fault}; got {answer}");
                }
            }
            catch (Exception ex)
            {
                failures.Add($"{c.Name}: threw {ex.GetType().Name}: {ex.Message}");
            }
            if (await NotAliveAsync() is { } dead)
            {
                failures.Add($"after {c.Name}: {dead}");
                break;
            }
        }
        var after = await SnapshotAsync();
        foreach (var (what, was) in before)
        {
            if (after[what] != was)
            {
                failures.Add($"something was written: {what} was {was}, is {after[what]}");
            }
        }
        failures.AddRange(await NormalRequestsAsync());
        var (heapAfter, workingSetAfter) = Memory();
        var (heapAtStart, workingSetAtStart) = shared.Baseline;
        var memory = $"GC heap {heapBefore >> 20} → {heapAfter >> 20} MiB, working set {workingSetBefore >> 20} → {workingSetAfter >> 20} MiB; "
            + $"since the broker started {heapAtStart >> 20} → {heapAfter >> 20} MiB and {workingSetAtStart >> 20} → {workingSetAfter >> 20} MiB";
        if (heapAfter - heapBefore > MemoryBound || workingSetAfter - workingSetBefore > MemoryBound)
        {
            failures.Add($"memory grew by more than {MemoryBound >> 20} MiB over this table: {memory}");
        }
        if (heapAfter - heapAtStart > MemoryBound || workingSetAfter - workingSetAtStart > MemoryBound)
        {
            failures.Add($"memory grew by more than {MemoryBound >> 20} MiB over the tables run so far: {memory}");
        }
        Assert.True(failures.Count == 0,
            $"{failures.Count} of {cases.Count} hostile cases went wrong ({clock.Elapsed.TotalSeconds:F1} s, {memory}):\n{string.Join("\n", failures)}");
    }

    private static (long Heap, long WorkingSet) Memory() => SharedBroker.Memory();

    /// <summary>What the cases must leave as it is, each read cheaply by the superuser.</summary>
    private async Task<Dictionary<string, string>> SnapshotAsync()
    {
        var topics = await _storage.GetFromJsonAsync<JsonElement>("/v1/topics");
        var canary = await _storage.GetFromJsonAsync<JsonElement>($"/v1/topics/{Canary}");
        var committed = await new LogService.LogServiceClient(_storageGrpc).FetchOffsetsAsync(new FetchOffsetsRequest { Group = CanaryGroup, Topic = Canary });
        var apps = await _delivery.GetFromJsonAsync<JsonElement>("/v1/apps");
        var replays = await _delivery.GetFromJsonAsync<JsonElement>("/v1/replays");
        return new Dictionary<string, string>
        {
            ["the topics"] = string.Join(",", topics.GetProperty("topics").EnumerateArray()
                .Select(t => $"{t.GetProperty("name").GetString()}:{t.GetProperty("partitions").GetInt32()}").Order(StringComparer.Ordinal)),
            ["the ACLs"] = await _storage.GetStringAsync("/v1/acls"),
            ["the canary's end offsets"] = string.Join(",", canary.GetProperty("partitionOffsets").EnumerateArray().Select(p => p.GetProperty("endOffset").GetInt64())),
            ["the canary group's committed offsets"] = committed.ToString(),
            ["the apps"] = string.Join(",", apps.GetProperty("apps").EnumerateArray().Select(a => a.GetProperty("appId").GetString()).Order(StringComparer.Ordinal)),
            ["the replays"] = string.Join(",", replays.GetProperty("replays").EnumerateArray().Select(r => r.GetProperty("id").GetString()).Order(StringComparer.Ordinal)),
            ["the subjects"] = await _registry.GetStringAsync("/subjects?deleted=true"),
            ["the canary subject's versions"] = await _registry.GetStringAsync($"/subjects/{CanarySubject}/versions?deleted=true"),
            ["the schemas"] = await _registry.GetStringAsync("/schemas?deleted=true"),
            ["the registry's config"] = await _registry.GetStringAsync("/config"),
            ["the registry's mode"] = await _registry.GetStringAsync("/mode"),
        };
    }

    /// <summary>Null when every service answers /alive; else which did not.</summary>
    private async Task<string?> NotAliveAsync()
    {
        foreach (var service in new[] { _broker.StorageHttp, _broker.IngestHttp, _broker.DeliveryHttp, _broker.Registry })
        {
            using var probe = SecureBroker.Http(service, key: null);
            try
            {
                using var alive = await probe.GetAsync("/alive");
                if (!alive.IsSuccessStatusCode)
                {
                    return $"{service} answered /alive with {(int)alive.StatusCode}";
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return $"{service} did not answer /alive: {ex.Message}";
            }
        }
        return null;
    }

    /// <summary>/health on every service, then one ordinary request to each: what was refused before must not have hurt them.</summary>
    private async Task<List<string>> NormalRequestsAsync()
    {
        var failures = new List<string>();
        async Task Expect(string what, Func<Task<HttpResponseMessage>> send)
        {
            try
            {
                using var response = await send();
                if (!response.IsSuccessStatusCode)
                {
                    failures.Add($"afterwards, {what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }
            catch (Exception ex)
            {
                failures.Add($"afterwards, {what} threw {ex.GetType().Name}: {ex.Message}");
            }
        }
        foreach (var (name, http) in new[] { ("storage", _storage), ("ingest", _ingest), ("delivery", _delivery), ("registry", _registry) })
        {
            await Expect($"{name} /health", () => http.GetAsync("/health"));
        }
        await Expect("storage GET /v1/topics/{canary}", () => _storage.GetAsync($"/v1/topics/{Canary}"));
        await Expect("ingest POST /v1/topics/alive/records", () => _ingest.PostAsJsonAsync($"/v1/topics/{Alive}/records", new { records = new[] { new { value = "alive" } } }));
        await Expect("delivery poll", () => _delivery.PostAsJsonAsync($"/v1/groups/{AliveGroup}/topics/{Alive}/poll", new { start = "earliest", waitMs = 5000, maxRecords = 1 }));
        await Expect("registry lookup", () => _registry.PostAsync($"/subjects/{CanarySubject}", RegistryJson(JsonSerializer.Serialize(new { schema = CanarySchema }))));
        try
        {
            await new LogService.LogServiceClient(_storageGrpc).DescribeTopicAsync(new DescribeTopicRequest { Topic = Canary });
        }
        catch (RpcException ex)
        {
            failures.Add($"afterwards, storage gRPC DescribeTopic failed: {ex.Status}");
        }
        return failures;
    }

    // ---- sending ------------------------------------------------------------------------------------------------

    /// <summary>A topic (or group, or subject) name of its own per case, so that a case wrongly accepted shows in the listings.</summary>
    private static string Fresh(string what = "hx") => $"{what}-{Interlocked.Increment(ref s_caseNumber).ToString(CultureInfo.InvariantCulture)}";

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static StringContent RegistryJson(string json) => new(json, Encoding.UTF8, RegistryType);

    private static ByteArrayContent Bytes(byte[] bytes, string mediaType = "application/json") =>
        new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

    /// <summary>Sends a REST request; a large body waits for the server's go-ahead (Expect: 100-continue), so a refusal of its size is read, not cut off.</summary>
    private static async Task<Answer> SendAsync(
        HttpClient http, AnswerShape shape, HttpMethod method, string path, HttpContent? content = null, Action<HttpRequestMessage>? configure = null)
    {
        // Sent exactly as written: no client-side unescaping or dot-segment removal.
        var uri = new Uri(new Uri(http.BaseAddress!, "/").ToString().TrimEnd('/') + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(method, uri) { Content = content };
        if (content?.Headers.ContentLength > 1024 * 1024)
        {
            request.Headers.ExpectContinue = true;
        }
        configure?.Invoke(request);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return new Answer(shape, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
    }

    private Task<Answer> Storage(HttpMethod method, string path, HttpContent? content = null) => SendAsync(_storage, AnswerShape.Problem, method, path, content);

    private Task<Answer> Ingest(HttpMethod method, string path, HttpContent? content = null, Action<HttpRequestMessage>? configure = null) =>
        SendAsync(_ingest, AnswerShape.Problem, method, path, content, configure);

    private Task<Answer> Delivery(HttpMethod method, string path, HttpContent? content = null) => SendAsync(_delivery, AnswerShape.Problem, method, path, content);

    private Task<Answer> Registry(HttpMethod method, string path, HttpContent? content = null, Action<HttpRequestMessage>? configure = null) =>
        SendAsync(_registry, AnswerShape.Registry, method, path, content, configure);

    /// <summary>Runs a gRPC call with a deadline: OK, or the status it failed with.</summary>
    private static async Task<Answer> GrpcAsync(Func<CallOptions, Task> call)
    {
        try
        {
            await call(new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)));
            return Answer.Grpc(StatusCode.OK, "OK");
        }
        catch (RpcException ex)
        {
            return Answer.Grpc(ex.StatusCode, ex.Status.Detail);
        }
    }

    /// <summary>A unary call whose request message is raw bytes: truncated protobuf, strings that are not UTF-8.</summary>
    private static Task<Answer> RawUnaryAsync(GrpcChannel channel, string service, string method, byte[] message) =>
        GrpcAsync(options => channel.CreateCallInvoker().AsyncUnaryCall(
            new Method<byte[], byte[]>(MethodType.Unary, service, method, s_raw, s_raw), null, options, message).ResponseAsync);

    private static async Task Ok(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
