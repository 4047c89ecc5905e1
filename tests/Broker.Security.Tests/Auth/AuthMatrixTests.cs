using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Contracts.Acls;
using Broker.Contracts.Batches;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Dapr.Client;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.Security.Tests.Auth;

/// <summary>
/// Every endpoint of every service, HTTP and gRPC, as four callers: nobody (401 / UNAUTHENTICATED), a key nobody
/// configured (401), bob who has no right (403 / PERMISSION_DENIED, or the resource left out of a list), and alice
/// once the one ACL the operation needs is granted (success). Each row uses resources of its own, so a row passes
/// only on the rights it names.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class AuthMatrixTests(RedisFixture redis) : IAsyncLifetime
{
    private const string RegistryType = "application/vnd.schemaregistry.v1+json";
    private const string Schema = """{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}""";

    private SecureBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("matrix"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private sealed record Right(string Type, string Name, params string[] Operations);

    /// <summary>The resources one row works on, and what its set-up left for its call (an id, a delivery).</summary>
    private sealed record Names(string Topic, string Group, string Subject)
    {
        public Dictionary<string, string> State { get; } = [];
    }

    /// <summary>
    /// One endpoint. <paramref name="Listing"/>: a list that leaves out what the caller may not see (the call answers
    /// Forbidden when the row's resource is missing); <paramref name="AnyPrincipal"/>: needs a credential, no right.
    /// </summary>
    private sealed record Case(
        string Name, Func<Names, Right[]> Rights, Func<Names, Task>? Setup, Func<Names, string?, Task<(Outcome, string)>> Call,
        bool Listing = false, bool AnyPrincipal = false);

    [Fact]
    public Task Storage_rest_and_grpc_endpoints() => RunAsync(StorageCases());

    [Fact]
    public Task Ingest_rest_grpc_and_dapr_endpoints() => RunAsync(IngestCases());

    [Fact]
    public Task Delivery_rest_and_grpc_endpoints() => RunAsync(DeliveryCases());

    [Fact]
    public Task Registry_endpoints() => RunAsync(RegistryCases());

    private async Task RunAsync(IEnumerable<Case> cases)
    {
        var rows = cases.Select((c, i) => (Case: c, Names: new Names($"t{i}", $"g{i}", $"s{i}-value"))).ToList();
        foreach (var (c, names) in rows)
        {
            if (c.Setup is { } setup)
            {
                await setup(names);
            }
        }
        foreach (var (c, names) in rows)
        {
            foreach (var right in c.Rights(names))
            {
                await _broker.GrantAsync("alice", right.Type, right.Name, right.Operations);
            }
        }
        var failures = new List<string>();
        foreach (var (c, names) in rows)
        {
            await Expect(c, names, null, Outcome.Unauthenticated, "nobody", failures);
            await Expect(c, names, SecureBroker.WrongKey, Outcome.Unauthenticated, "a wrong key", failures);
            await Expect(c, names, SecureBroker.BobKey, c.AnyPrincipal ? Outcome.Ok : Outcome.Forbidden, "bob (no right)", failures);
            await Expect(c, names, SecureBroker.AliceKey, Outcome.Ok, "alice (granted)", failures);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {rows.Count * 4} calls went wrong:\n{string.Join("\n", failures)}");
    }

    private static async Task Expect(Case c, Names names, string? key, Outcome expected, string who, List<string> failures)
    {
        try
        {
            var (outcome, detail) = await c.Call(names, key);
            if (outcome != expected)
            {
                failures.Add($"{c.Name} as {who}: expected {expected}, got {outcome} ({detail})");
            }
        }
        catch (Exception ex)
        {
            failures.Add($"{c.Name} as {who}: threw {ex.GetType().Name}: {ex.Message}");
        }
    }

    // ---- Storage ------------------------------------------------------------------------------------------------

    private IEnumerable<Case> StorageCases()
    {
        yield return new("storage PUT /v1/topics/{t} (create)", n => [new("topic", n.Topic, "create")], null,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Put, $"/v1/topics/{n.Topic}", new { partitions = 1 }));
        yield return new("storage PUT /v1/topics/{t} (alter)", n => [new("topic", n.Topic, "alter")], CreateTopicAsync,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Put, $"/v1/topics/{n.Topic}", new { partitions = 1 }));
        yield return new("storage GET /v1/topics/{t}", n => [new("topic", n.Topic, "describe")], CreateTopicAsync,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Get, $"/v1/topics/{n.Topic}"));
        yield return new("storage GET /v1/topics (lists what the caller may describe)", n => [new("topic", n.Topic, "describe")], CreateTopicAsync,
            (n, key) => Listing(_broker.StorageHttp, key, "/v1/topics", body => body.GetProperty("topics").EnumerateArray().Any(t => t.GetProperty("name").GetString() == n.Topic)),
            Listing: true);
        yield return new("storage DELETE /v1/topics/{t}", n => [new("topic", n.Topic, "delete")], CreateTopicAsync,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Delete, $"/v1/topics/{n.Topic}"));
        yield return new("storage POST /v1/acls", n => [new("cluster", "cluster", "alter")], null,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Post, "/v1/acls", Binding("carol", n.Topic)));
        yield return new("storage GET /v1/acls", n => [new("cluster", "cluster", "describe")], null,
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Get, "/v1/acls?principal=carol"));
        yield return new("storage DELETE /v1/acls", n => [new("cluster", "cluster", "alter")],
            n => AdminRest(_broker.StorageHttp, HttpMethod.Post, "/v1/acls", Binding("dave", n.Topic)),
            (n, key) => Rest(_broker.StorageHttp, key, HttpMethod.Delete, "/v1/acls", Binding("dave", n.Topic)));

        yield return new("storage gRPC Append", n => [new("topic", n.Topic, "write")], CreateTopicAsync,
            (n, key) => Log(key, log => log.AppendAsync(new AppendRequest { Topic = n.Topic, Partition = 0, Batch = ByteString.CopyFrom(Batch()) }).ResponseAsync));
        yield return new("storage gRPC AppendStream (a refusal per request)", n => [new("topic", n.Topic, "write")], CreateTopicAsync, AppendStreamAsync);
        yield return new("storage gRPC Read", n => [new("topic", n.Topic, "read")], CreateTopicWithRecordAsync,
            (n, key) => Log(key, log => log.ReadAsync(new ReadRequest { Topic = n.Topic, Partition = 0, Offset = 0, MaxBytes = 1 << 20 }).ResponseAsync));
        yield return new("storage gRPC Tail", n => [new("topic", n.Topic, "read")], CreateTopicWithRecordAsync,
            (n, key) => Log(key, async log =>
            {
                using var tail = log.Tail(new TailRequest { Topic = n.Topic, Partition = 0, Offset = 0, MaxBytes = 1 << 20 });
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                Assert.True(await tail.ResponseStream.MoveNext(timeout.Token));
            }));
        yield return new("storage gRPC WaitForData", n => [new("topic", n.Topic, "read")], CreateTopicWithRecordAsync,
            (n, key) => Log(key, log => log.WaitForDataAsync(new WaitForDataRequest { Topic = n.Topic, Partition = 0, Offset = 0, MaxWaitMs = 10 }).ResponseAsync));
        yield return new("storage gRPC FindOffset", n => [new("topic", n.Topic, "describe")], CreateTopicWithRecordAsync,
            (n, key) => Log(key, log => log.FindOffsetAsync(new FindOffsetRequest { Topic = n.Topic, Partition = 0, Timestamp = 0 }).ResponseAsync));
        yield return new("storage gRPC DescribeTopic", n => [new("topic", n.Topic, "describe")], CreateTopicAsync,
            (n, key) => Log(key, log => log.DescribeTopicAsync(new DescribeTopicRequest { Topic = n.Topic }).ResponseAsync));
        yield return new("storage gRPC EnsureTopic (a new topic)", n => [new("topic", n.Topic, "create")], null,
            (n, key) => Log(key, log => log.EnsureTopicAsync(new EnsureTopicRequest { Topic = n.Topic, Partitions = 1 }).ResponseAsync));
        yield return new("storage gRPC CommitOffsets", n => [new("group", n.Group, "read"), new("topic", n.Topic, "read")], CreateTopicAsync,
            (n, key) => Log(key, log => log.CommitOffsetsAsync(new CommitOffsetsRequest { Group = n.Group, Topic = n.Topic, Offsets = { new GroupOffset { Partition = 0, Offset = 0 } } }).ResponseAsync));
        yield return new("storage gRPC FetchOffsets", n => [new("group", n.Group, "describe"), new("topic", n.Topic, "describe")], CreateTopicAsync,
            (n, key) => Log(key, log => log.FetchOffsetsAsync(new FetchOffsetsRequest { Group = n.Group, Topic = n.Topic }).ResponseAsync));
        yield return new("storage gRPC AclService.Watch", n => [new("cluster", "cluster", "describe")], null,
            (n, key) => Outcomes.GrpcAsync(async () =>
            {
                using var channel = SecureBroker.Channel(_broker.StorageGrpc, key);
                using var watch = new AclService.AclServiceClient(channel).Watch(new WatchAclsRequest());
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                Assert.True(await watch.ResponseStream.MoveNext(timeout.Token));
            }));
    }

    private async Task<(Outcome, string)> AppendStreamAsync(Names n, string? key)
    {
        using var channel = SecureBroker.Channel(_broker.StorageGrpc, key);
        try
        {
            using var stream = new LogService.LogServiceClient(channel).AppendStream();
            try
            {
                await stream.RequestStream.WriteAsync(new AppendRequest { Topic = n.Topic, Partition = 0, Batch = ByteString.CopyFrom(Batch()), RequestId = 7 });
                await stream.RequestStream.CompleteAsync();
            }
            catch (RpcException)
            {
                // Refused before the request was written: the write fails as CANCELLED; the answer's status is read below.
            }
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            var answer = stream.ResponseStream.Current;
            return (Outcomes.Of((StatusCode)answer.StatusCode), $"{(StatusCode)answer.StatusCode}: {answer.StatusMessage}");
        }
        catch (RpcException ex)
        {
            return (Outcomes.Of(ex.StatusCode), ex.Status.Detail);
        }
    }

    // ---- Ingest -------------------------------------------------------------------------------------------------

    private IEnumerable<Case> IngestCases()
    {
        yield return new("ingest POST /v1/topics/{t}/records", n => [new("topic", n.Topic, "write")], CreateTopicAsync,
            (n, key) => Rest(_broker.IngestHttp, key, HttpMethod.Post, $"/v1/topics/{n.Topic}/records", new { records = new[] { new { value = "x" } } }));
        yield return new("ingest gRPC Produce (a refusal per request)", n => [new("topic", n.Topic, "write")], CreateTopicAsync, ProduceStreamAsync);
        yield return new("ingest Dapr PublishEvent (DaprClient, dapr-api-token)", n => [new("topic", n.Topic, "write")], CreateTopicAsync,
            (n, key) => Dapr(key, dapr => dapr.PublishEventAsync("pubsub", n.Topic, new { id = 1 })));
        // DaprClient turns a failed bulk call into failed entries, status lost: the call's status is read from Dapr's own stub, same header.
        yield return new("ingest Dapr BulkPublishEvent (dapr-api-token)", n => [new("topic", n.Topic, "write")], CreateTopicAsync,
            (n, key) => Outcomes.GrpcAsync(async () =>
            {
                using var channel = SecureBroker.Channel(_broker.IngestGrpc, null);
                var headers = key is null ? null : new Metadata { { "dapr-api-token", key } };
                var request = new Broker.Contracts.Dapr.Runtime.BulkPublishRequest { PubsubName = "pubsub", Topic = n.Topic };
                request.Entries.Add(new Broker.Contracts.Dapr.Runtime.BulkPublishRequestEntry { EntryId = "1", Event = ByteString.CopyFromUtf8("{}"), ContentType = "application/json" });
                var response = await new Broker.Contracts.Dapr.Runtime.Dapr.DaprClient(channel).BulkPublishEventAsync(request, headers);
                Assert.Empty(response.FailedEntries);
            }));
    }

    private async Task<(Outcome, string)> ProduceStreamAsync(Names n, string? key)
    {
        using var channel = SecureBroker.Channel(_broker.IngestGrpc, key);
        using var stream = new ProduceService.ProduceServiceClient(channel).Produce();
        try
        {
            await stream.RequestStream.WriteAsync(new ProduceRequest { RequestId = 1, Topic = n.Topic, Records = { new ProduceRecord { Value = ByteString.CopyFromUtf8("x") } } });
            await stream.RequestStream.CompleteAsync();
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            var answer = stream.ResponseStream.Current;
            return (Outcomes.Of((StatusCode)answer.StatusCode), $"{(StatusCode)answer.StatusCode}: {answer.StatusMessage}");
        }
        catch (RpcException ex)
        {
            // A refused call can fail the write with the stream's reset before its answer is read: the answer says why.
            try
            {
                await stream.ResponseHeadersAsync;
            }
            catch (RpcException answered)
            {
                return (Outcomes.Of(answered.StatusCode), $"{answered.StatusCode}: {answered.Status.Detail}");
            }
            return (Outcomes.Of(ex.StatusCode), $"{ex.StatusCode}: {ex.Status.Detail}");
        }
    }

    private async Task<(Outcome, string)> Dapr(string? key, Func<DaprClient, Task> call)
    {
        var builder = new DaprClientBuilder().UseGrpcEndpoint(_broker.IngestGrpc.ToString().TrimEnd('/'));
        if (key is not null)
        {
            builder.UseDaprApiToken(key);
        }
        using var dapr = builder.Build();
        try
        {
            await call(dapr);
            return (Outcome.Ok, "OK");
        }
        catch (Exception ex) when (Inner<RpcException>(ex) is { } rpc)
        {
            return (Outcomes.Of(rpc.StatusCode), $"{rpc.StatusCode}: {rpc.Status.Detail}");
        }
    }

    // ---- Delivery -----------------------------------------------------------------------------------------------

    private IEnumerable<Case> DeliveryCases()
    {
        yield return new("delivery POST /v1/groups/{g}/topics/{t}/poll", n => [new("group", n.Group, "read"), new("topic", n.Topic, "read")], CreateTopicWithRecordAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Post, $"/v1/groups/{n.Group}/topics/{n.Topic}/poll", new { start = "earliest", consumerId = "c-" + (key ?? "none")[..3] }));
        yield return new("delivery POST /v1/groups/{g}/topics/{t}/acks", n => [new("group", n.Group, "read")], PolledAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Post, $"/v1/groups/{n.Group}/topics/{n.Topic}/acks", new { ack = new[] { n.State["delivery"] } }));
        yield return new("delivery GET /v1/groups/{g}", n => [new("group", n.Group, "describe")], PolledAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Get, $"/v1/groups/{n.Group}"));
        yield return new("delivery gRPC Subscribe", n => [new("group", n.Group, "read"), new("topic", n.Topic, "read")], CreateTopicWithRecordAsync,
            (n, key) => Outcomes.GrpcAsync(async () =>
            {
                using var channel = SecureBroker.Channel(_broker.DeliveryGrpc, key);
                using var stream = new DeliveryService.DeliveryServiceClient(channel).Subscribe();
                try
                {
                    await stream.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = n.Group, Topic = n.Topic, Window = 10 } });
                }
                catch (RpcException)
                {
                    // A refusal can end the call before the request is written (the write fails as CANCELLED); the
                    // answer's status is read below.
                }
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                Assert.True(await stream.ResponseStream.MoveNext(timeout.Token));
            }));
        yield return new("delivery POST /v1/replays (republish: read the source, write and create the target)",
            n => [new("topic", n.Topic, "read"), new("topic", n.Topic + "-copy", "write", "create")], CreateTopicWithRecordAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Post, "/v1/replays", new { topic = n.Topic, target = new { topic = n.Topic + "-copy" } }));
        yield return new("delivery GET /v1/replays (lists jobs whose topic the caller may describe)", n => [new("topic", n.Topic, "describe")], SlowReplayAsync,
            (n, key) => Listing(_broker.DeliveryHttp, key, "/v1/replays", body => body.GetProperty("replays").EnumerateArray().Any(r => r.GetProperty("id").GetString() == n.State["replay"])),
            Listing: true);
        yield return new("delivery GET /v1/replays/{id}", n => [new("topic", n.Topic, "describe")], SlowReplayAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Get, $"/v1/replays/{n.State["replay"]}"));
        yield return new("delivery DELETE /v1/replays/{id}", n => [new("topic", n.Topic, "read")], SlowReplayAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Delete, $"/v1/replays/{n.State["replay"]}"));
        yield return new("delivery PUT /v1/apps/{id} (its group, each declared topic)", n => [new("group", n.Group, "read"), new("topic", n.Topic, "read")], CreateTopicAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Put, $"/v1/apps/{n.Group}", App(n)));
        yield return new("delivery GET /v1/apps (lists apps whose group the caller may describe)", n => [new("group", n.Group, "describe")], DeclaredAppAsync,
            (n, key) => Listing(_broker.DeliveryHttp, key, "/v1/apps", body => body.GetProperty("apps").EnumerateArray().Any(a => a.GetProperty("appId").GetString() == n.Group)),
            Listing: true);
        yield return new("delivery GET /v1/apps/{id}", n => [new("group", n.Group, "describe")], DeclaredAppAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Get, $"/v1/apps/{n.Group}"));
        yield return new("delivery DELETE /v1/apps/{id}", n => [new("group", n.Group, "read")], DeclaredAppAsync,
            (n, key) => Rest(_broker.DeliveryHttp, key, HttpMethod.Delete, $"/v1/apps/{n.Group}"));
    }

    private async Task PolledAsync(Names n)
    {
        await CreateTopicWithRecordAsync(n);
        using var admin = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        using var polled = await admin.PostAsJsonAsync($"/v1/groups/{n.Group}/topics/{n.Topic}/poll", new { start = "earliest", waitMs = 5000 });
        var body = await polled.Content.ReadFromJsonAsync<JsonElement>();
        n.State["delivery"] = body.GetProperty("records")[0].GetProperty("deliveryId").GetString()!;
    }

    /// <summary>A replay that runs for a while (one record a second), so it can still be looked at and cancelled.</summary>
    private async Task SlowReplayAsync(Names n)
    {
        await CreateTopicAsync(n);
        using var ingest = SecureBroker.Http(_broker.IngestHttp, SecureBroker.AdminKey);
        using var produced = await ingest.PostAsJsonAsync($"/v1/topics/{n.Topic}/records", new { records = Enumerable.Range(0, 100).Select(i => new { value = i }) });
        Assert.True(produced.IsSuccessStatusCode);
        using var admin = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        using var created = await admin.PostAsJsonAsync("/v1/replays", new { topic = n.Topic, target = new { verify = true }, rateLimit = 1 });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        n.State["replay"] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private async Task DeclaredAppAsync(Names n)
    {
        await CreateTopicAsync(n);
        await AdminRest(_broker.DeliveryHttp, HttpMethod.Put, $"/v1/apps/{n.Group}", App(n));
    }

    private static object App(Names n) => new
    {
        url = "http://127.0.0.1:9",
        subscriptions = new[] { new { pubsubname = "pubsub", topic = n.Topic, route = "/orders" } },
    };

    // ---- Registry -----------------------------------------------------------------------------------------------

    private IEnumerable<Case> RegistryCases()
    {
        yield return new("registry GET /", n => [], null, (n, key) => Registry(key, HttpMethod.Get, "/"), AnyPrincipal: true);
        yield return new("registry GET /schemas/types", n => [], null, (n, key) => Registry(key, HttpMethod.Get, "/schemas/types"), AnyPrincipal: true);
        yield return new("registry GET /subjects (lists what the caller may describe)", n => [new("subject", n.Subject, "describe")], RegisteredAsync,
            (n, key) => Listing(_broker.Registry, key, "/subjects", body => body.EnumerateArray().Any(s => s.GetString() == n.Subject)), Listing: true);
        yield return new("registry GET /subjects/{s}/versions", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/subjects/{n.Subject}/versions"));
        yield return new("registry POST /subjects/{s}/versions", n => [new("subject", n.Subject, "write")], null,
            (n, key) => Registry(key, HttpMethod.Post, $"/subjects/{n.Subject}/versions", new { schema = Schema }));
        yield return new("registry POST /subjects/{s} (lookup)", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Post, $"/subjects/{n.Subject}", new { schema = Schema }));
        yield return new("registry GET /subjects/{s}/versions/1", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/subjects/{n.Subject}/versions/1"));
        yield return new("registry GET /subjects/{s}/versions/1/schema", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/subjects/{n.Subject}/versions/1/schema"));
        yield return new("registry GET /subjects/{s}/versions/1/referencedby", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/subjects/{n.Subject}/versions/1/referencedby"));
        yield return new("registry DELETE /subjects/{s}/versions/1", n => [new("subject", n.Subject, "delete")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Delete, $"/subjects/{n.Subject}/versions/1"));
        yield return new("registry DELETE /subjects/{s}", n => [new("subject", n.Subject, "delete")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Delete, $"/subjects/{n.Subject}"));
        yield return new("registry GET /schemas (lists schemas of subjects the caller may read)", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Listing(_broker.Registry, key, "/schemas", body => body.EnumerateArray().Any(s => s.GetProperty("subject").GetString() == n.Subject)), Listing: true);
        yield return new("registry GET /schemas/ids/{id} (read on a subject holding it)", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/schemas/ids/{n.State["id"]}"));
        yield return new("registry GET /schemas/ids/{id}/schema", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/schemas/ids/{n.State["id"]}/schema"));
        yield return new("registry GET /schemas/ids/{id}/versions (lists subjects the caller may describe)", n => [new("subject", n.Subject, "describe")], RegisteredAsync,
            (n, key) => Listing(_broker.Registry, key, $"/schemas/ids/{n.State["id"]}/versions", body => body.EnumerateArray().Any(v => v.GetProperty("subject").GetString() == n.Subject)),
            Listing: true);
        yield return new("registry GET /schemas/ids/{id}/subjects (lists subjects the caller may describe)", n => [new("subject", n.Subject, "describe")], RegisteredAsync,
            (n, key) => Listing(_broker.Registry, key, $"/schemas/ids/{n.State["id"]}/subjects", body => body.EnumerateArray().Any(s => s.GetString() == n.Subject)),
            Listing: true);
        yield return new("registry GET /config", n => [new("cluster", "cluster", "describe")], null, (n, key) => Registry(key, HttpMethod.Get, "/config"));
        yield return new("registry PUT /config", n => [new("cluster", "cluster", "alter")], null,
            (n, key) => Registry(key, HttpMethod.Put, "/config", new { compatibility = "BACKWARD" }));
        yield return new("registry DELETE /config", n => [new("cluster", "cluster", "alter")], null, (n, key) => Registry(key, HttpMethod.Delete, "/config"));
        yield return new("registry GET /config/{s}", n => [new("subject", n.Subject, "describe")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/config/{n.Subject}?defaultToGlobal=true"));
        yield return new("registry PUT /config/{s}", n => [new("subject", n.Subject, "alter")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Put, $"/config/{n.Subject}", new { compatibility = "FULL" }));
        yield return new("registry DELETE /config/{s}", n => [new("subject", n.Subject, "alter")],
            async n => { await RegisteredAsync(n); await AdminRegistry(HttpMethod.Put, $"/config/{n.Subject}", new { compatibility = "FULL" }); },
            (n, key) => Registry(key, HttpMethod.Delete, $"/config/{n.Subject}"));
        yield return new("registry GET /mode", n => [new("cluster", "cluster", "describe")], null, (n, key) => Registry(key, HttpMethod.Get, "/mode"));
        yield return new("registry PUT /mode", n => [new("cluster", "cluster", "alter")], null,
            (n, key) => Registry(key, HttpMethod.Put, "/mode", new { mode = "READWRITE" }));
        yield return new("registry DELETE /mode", n => [new("cluster", "cluster", "alter")],
            n => AdminRegistry(HttpMethod.Put, "/mode", new { mode = "READWRITE" }),
            (n, key) => Registry(key, HttpMethod.Delete, "/mode"));
        yield return new("registry GET /mode/{s}", n => [new("subject", n.Subject, "describe")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Get, $"/mode/{n.Subject}?defaultToGlobal=true"));
        yield return new("registry PUT /mode/{s}", n => [new("subject", n.Subject, "alter")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Put, $"/mode/{n.Subject}", new { mode = "READWRITE" }));
        yield return new("registry DELETE /mode/{s}", n => [new("subject", n.Subject, "alter")],
            async n => { await RegisteredAsync(n); await AdminRegistry(HttpMethod.Put, $"/mode/{n.Subject}", new { mode = "READWRITE" }); },
            (n, key) => Registry(key, HttpMethod.Delete, $"/mode/{n.Subject}"));
        yield return new("registry POST /compatibility/subjects/{s}/versions/latest", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Post, $"/compatibility/subjects/{n.Subject}/versions/latest", new { schema = Schema }));
        yield return new("registry POST /compatibility/subjects/{s}/versions", n => [new("subject", n.Subject, "read")], RegisteredAsync,
            (n, key) => Registry(key, HttpMethod.Post, $"/compatibility/subjects/{n.Subject}/versions", new { schema = Schema }));
    }

    private async Task RegisteredAsync(Names n)
    {
        var body = await AdminRegistry(HttpMethod.Post, $"/subjects/{n.Subject}/versions", new { schema = Schema });
        n.State["id"] = body.GetProperty("id").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<(Outcome, string)> Registry(string? key, HttpMethod method, string path, object? body = null)
    {
        using var http = SecureBroker.Http(_broker.Registry, key);
        return await Outcomes.HttpAsync(http, method, path, body is null ? null : new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, RegistryType));
    }

    private async Task<JsonElement> AdminRegistry(HttpMethod method, string path, object body)
    {
        using var http = SecureBroker.Http(_broker.Registry, SecureBroker.AdminKey);
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, RegistryType) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} as admin: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private Task CreateTopicAsync(Names n) => AdminRest(_broker.StorageHttp, HttpMethod.Put, $"/v1/topics/{n.Topic}", new { partitions = 1 });

    private async Task CreateTopicWithRecordAsync(Names n)
    {
        await CreateTopicAsync(n);
        await AdminRest(_broker.IngestHttp, HttpMethod.Post, $"/v1/topics/{n.Topic}/records", new { records = new[] { new { value = "first" } } });
    }

    private static object Binding(string principal, string topic) =>
        new { principal, resource = new { type = "topic", name = topic, pattern = "literal" }, operations = new[] { "read" }, permission = "allow" };

    private static async Task<(Outcome, string)> Rest(Uri service, string? key, HttpMethod method, string path, object? body = null)
    {
        using var http = SecureBroker.Http(service, key);
        return await Outcomes.HttpAsync(http, method, path, body is null ? null : JsonContent.Create(body));
    }

    private static async Task AdminRest(Uri service, HttpMethod method, string path, object body)
    {
        var (outcome, detail) = await Rest(service, SecureBroker.AdminKey, method, path, body);
        Assert.True(outcome == Outcome.Ok, $"{method} {path} as admin: {detail}");
    }

    /// <summary>A list answers 200 to everyone with a credential; Forbidden here means the row's resource was left out.</summary>
    private static async Task<(Outcome, string)> Listing(Uri service, string? key, string path, Func<JsonElement, bool> shows)
    {
        using var http = SecureBroker.Http(service, key);
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        var outcome = Outcomes.Of(response.StatusCode);
        if (outcome == Outcome.Ok && !shows(JsonDocument.Parse(text).RootElement))
        {
            return (Outcome.Forbidden, "left out of the list");
        }
        return (outcome, $"{(int)response.StatusCode}: {text}");
    }

    private Task<(Outcome, string)> Log(string? key, Func<LogService.LogServiceClient, Task> call) => Outcomes.GrpcAsync(async () =>
    {
        using var channel = SecureBroker.Channel(_broker.StorageGrpc, key);
        await call(new LogService.LogServiceClient(channel));
    });

    private static byte[] Batch()
    {
        using var builder = new RecordBatchBuilder();
        builder.Add("x"u8, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return builder.Build();
    }

    private static T? Inner<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }
        return null;
    }
}
