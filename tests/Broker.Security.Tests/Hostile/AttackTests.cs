using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Contracts.Delivery;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Broker.Security.Tests.Hostile;

/// <summary>
/// The attacks that worked, anonymously on loopback, against the broker before it had keys, ACLs and bounds; each is a
/// test against the secured broker, the attacker being nobody or bob (a principal with no right). Where another project
/// tests the mechanism in depth (named on each test), this one shows the attack fails against the broker as deployed.
/// Alice gets narrow rights in some tests (each on resources of its own); bob never gets any.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class AttackTests(RedisFixture redis, SharedBroker shared) : IAsyncLifetime, IClassFixture<SharedBroker>
{
    private const string RegistryType = "application/vnd.schemaregistry.v1+json";
    private const string Schema = """{"type":"record","name":"Order","fields":[{"name":"id","type":"int"}]}""";

    private readonly List<GrpcChannel> _channels = [];
    private SecureBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await shared.StartAsync(redis, "attacks");

    public Task DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
        return Task.CompletedTask;
    }

    // ---- every API anonymous --------------------------------------------------------------------------------------

    [Fact]
    public async Task Anonymous_and_bob_cannot_create_or_delete_topics()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        foreach (var key in new[] { null, SecureBroker.BobKey })
        {
            using var attacker = SecureBroker.Http(_broker.StorageHttp, key);
            using var created = await attacker.PutAsJsonAsync("/v1/topics/attack-created", new { partitions = 1 });
            Assert.Equal(key is null ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden, created.StatusCode);
            var ensure = await Assert.ThrowsAsync<RpcException>(() => Log(key).EnsureTopicAsync(new EnsureTopicRequest { Topic = "attack-created", Partitions = 1 }).ResponseAsync);
            Assert.Equal(key is null ? StatusCode.Unauthenticated : StatusCode.PermissionDenied, ensure.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/v1/topics/attack-created")).StatusCode);

        await Created(admin.PutAsJsonAsync("/v1/topics/attack-victim", new { partitions = 1 }));
        foreach (var key in new[] { null, SecureBroker.BobKey })
        {
            using var attacker = SecureBroker.Http(_broker.StorageHttp, key);
            using var deleted = await attacker.DeleteAsync("/v1/topics/attack-victim");
            Assert.Equal(key is null ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden, deleted.StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v1/topics/attack-victim")).StatusCode);
    }

    [Fact]
    public async Task Anonymous_and_bob_cannot_hard_delete_a_schema()
    {
        using var admin = SecureBroker.Http(_broker.Registry, SecureBroker.AdminKey);
        await Created(admin.PostAsync("/subjects/victim-value/versions", Registry(new { schema = Schema })));
        // Soft-deleted first, so that a permanent delete is one request away.
        await Created(admin.DeleteAsync("/subjects/victim-value"));
        foreach (var (key, status, code) in new[] { ((string?)null, 401, 401), (SecureBroker.BobKey, 403, 40301) })
        {
            using var attacker = SecureBroker.Http(_broker.Registry, key);
            using var deleted = await attacker.DeleteAsync("/subjects/victim-value?permanent=true");
            Assert.Equal(status, (int)deleted.StatusCode);
            Assert.Equal(code, (await deleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error_code").GetInt32());
        }
        Assert.Equal("[1]", await admin.GetStringAsync("/subjects/victim-value/versions?deleted=true"));
    }

    [Fact]
    public async Task Nobody_without_alter_on_the_cluster_puts_the_registry_in_READONLY()
    {
        // Alice may do anything to every subject, which is still not the cluster's mode.
        await _broker.ChangeAclAsync(HttpMethod.Post, new { principal = "alice", resource = new { type = "subject", name = "*" }, operations = new[] { "all" } });
        foreach (var (key, status) in new[] { ((string?)null, 401), (SecureBroker.BobKey, 403), (SecureBroker.AliceKey, 403) })
        {
            using var attacker = SecureBroker.Http(_broker.Registry, key);
            using var request = new HttpRequestMessage(HttpMethod.Put, "/mode") { Content = Registry(new { mode = "READONLY" }) };
            using var answer = await attacker.SendAsync(request);
            Assert.Equal(status, (int)answer.StatusCode);
        }
        using var admin = SecureBroker.Http(_broker.Registry, SecureBroker.AdminKey);
        Assert.Equal("READWRITE", (await admin.GetFromJsonAsync<JsonElement>("/mode")).GetProperty("mode").GetString());
    }

    [Fact]
    public async Task Nobody_reads_another_groups_records_without_read_on_the_group()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        await Created(admin.PutAsJsonAsync("/v1/topics/payroll", new { partitions = 1 }));
        using var ingest = SecureBroker.Http(_broker.IngestHttp, SecureBroker.AdminKey);
        await Created(ingest.PostAsJsonAsync("/v1/topics/payroll/records", new { records = new[] { new { value = "salary" } } }));
        await Log(SecureBroker.AdminKey).CommitOffsetsAsync(new CommitOffsetsRequest { Group = "hr", Topic = "payroll", Offsets = { new GroupOffset { Partition = 0, Offset = 0 } } });
        // Alice may read the topic, not the group.
        await _broker.GrantAsync("alice", "topic", "payroll", "read");

        foreach (var (key, status) in new[] { ((string?)null, HttpStatusCode.Unauthorized), (SecureBroker.BobKey, HttpStatusCode.Forbidden), (SecureBroker.AliceKey, HttpStatusCode.Forbidden) })
        {
            using var attacker = SecureBroker.Http(_broker.DeliveryHttp, key);
            using var polled = await attacker.PostAsJsonAsync("/v1/groups/hr/topics/payroll/poll", new { start = "earliest", waitMs = 1000 });
            Assert.Equal(status, polled.StatusCode);
            Assert.DoesNotContain("salary", await polled.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            using var channel = SecureBroker.Channel(_broker.DeliveryGrpc, key);
            using var stream = new DeliveryService.DeliveryServiceClient(channel).Subscribe(deadline: DateTime.UtcNow.AddSeconds(30));
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                try
                {
                    await stream.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = "hr", Topic = "payroll", Window = 10 } });
                }
                catch (RpcException)
                {
                    // The refusal can end the call before the request is written; the write then fails as CANCELLED
                    // and the answer's status is read below.
                }
                await stream.ResponseStream.MoveNext(CancellationToken.None);
            });
            Assert.Equal(key is null ? StatusCode.Unauthenticated : StatusCode.PermissionDenied, refused.StatusCode);
        }
        Assert.Equal(0, await CommittedAsync("hr", "payroll"));
    }

    [Fact]
    public async Task CommitOffsets_over_gRPC_needs_read_on_the_group()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        await Created(admin.PutAsJsonAsync("/v1/topics/ledger", new { partitions = 1 }));
        await Log(SecureBroker.AdminKey).CommitOffsetsAsync(new CommitOffsetsRequest { Group = "auditors", Topic = "ledger", Offsets = { new GroupOffset { Partition = 0, Offset = 0 } } });
        await _broker.GrantAsync("alice", "topic", "ledger", "read");

        foreach (var (key, status) in new[] { ((string?)null, StatusCode.Unauthenticated), (SecureBroker.BobKey, StatusCode.PermissionDenied), (SecureBroker.AliceKey, StatusCode.PermissionDenied) })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => Log(key).CommitOffsetsAsync(new CommitOffsetsRequest
            {
                Group = "auditors",
                Topic = "ledger",
                Offsets = { new GroupOffset { Partition = 0, Offset = 1_000_000 } },
            }).ResponseAsync);
            Assert.Equal(status, refused.StatusCode);
        }
        Assert.Equal(0, await CommittedAsync("auditors", "ledger"));
    }

    // ---- Delivery's rule parser and outbound calls --------------------------------------------------------------------

    /// <summary>The rule parser's bounds in depth: tests/Broker.Dapr.Tests/Apps/RuleLimitsTests.cs.</summary>
    [Fact]
    public async Task A_route_rule_of_100_KB_of_nested_parentheses_is_a_400_declared_or_discovered_and_Delivery_lives()
    {
        var deep = new string('(', 50_000) + "event.type == 'x'" + new string(')', 50_000);
        using var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        using (var declared = await delivery.PutAsJsonAsync("/v1/apps/deep-rule", new
        {
            url = "http://127.0.0.1:9",
            subscriptions = new[] { new { pubsubname = "pubsub", topic = "orders", routes = new { rules = new[] { new { match = deep, path = "/a" } } } } },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, declared.StatusCode);
            Assert.Contains("EventRule.MaxLength", await declared.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await delivery.GetAsync("/v1/apps/deep-rule")).StatusCode);

        // An app whose /dapr/subscribe answers such a rule: that subscription is skipped, its other one delivered.
        await using var app = await OutboundTarget.StartAsync(web => web.MapGet("/dapr/subscribe", () => Results.Json(new object[]
        {
            new { pubsubname = "pubsub", topic = "deep-topic", routes = new { rules = new[] { new { match = deep, path = "/a" } } } },
            new { pubsubname = "pubsub", topic = "plain-topic", route = "/b" },
        })));
        await Created(delivery.PutAsJsonAsync("/v1/apps/deep-discovered", new { url = app.Url }));
        var delivering = await UntilAsync(async () =>
        {
            var view = await delivery.GetFromJsonAsync<JsonElement>("/v1/apps/deep-discovered");
            var topics = view.GetProperty("delivering").EnumerateArray().Select(d => d.GetProperty("topic").GetString()).ToList();
            return topics.Count > 0 ? topics : null;
        });
        Assert.Equal("plain-topic", Assert.Single(delivering));
        Assert.Equal(HttpStatusCode.OK, (await delivery.GetAsync("/health")).StatusCode);
        await Created(delivery.DeleteAsync("/v1/apps/deep-discovered"));
    }

    /// <summary>Discovery's read cap in depth: tests/Broker.Dapr.Tests/Apps/OutboundTests.cs (A_50_MB_subscribe_answer_…).</summary>
    [Fact]
    public async Task A_50_MB_subscribe_answer_leaves_memory_bounded()
    {
        const int answerBytes = 50 * 1024 * 1024;
        await using var huge = await OutboundTarget.StartEndlessSubscribeAsync(answerBytes);
        using var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        var (heapBefore, workingSetBefore) = Memory();
        await Created(delivery.PutAsJsonAsync("/v1/apps/huge-subscribe", new { url = huge.Url }));
        var lastError = await UntilAsync(async () =>
            (await delivery.GetFromJsonAsync<JsonElement>("/v1/apps/huge-subscribe")).GetProperty("lastError").GetString());
        Assert.Contains("Delivery:Outbound:MaxResponseBytes", lastError, StringComparison.Ordinal);
        // Asked again every 2 s while it fails: three answers' worth.
        await UntilAsync(() => Task.FromResult(huge.Requests >= 3 ? "" : null));
        var (heapAfter, workingSetAfter) = Memory();
        var figures = $"{huge.Requests} discoveries; GC heap {heapBefore >> 20} → {heapAfter >> 20} MiB, working set {workingSetBefore >> 20} → {workingSetAfter >> 20} MiB";
        Assert.True(heapAfter - heapBefore < 32 * 1024 * 1024, figures);
        Assert.True(workingSetAfter - workingSetBefore < 512 * 1024 * 1024, figures);
        await Created(delivery.DeleteAsync("/v1/apps/huge-subscribe"));
    }

    /// <summary>The allow-list in depth: tests/Broker.Dapr.Tests/Apps/OutboundTests.cs and tests/Broker.Delivery.Tests/Replays/ReplayOutboundTests.cs.</summary>
    [Fact]
    public async Task An_app_or_replay_URL_outside_the_allow_list_is_a_400_and_nothing_is_stored()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        await Created(admin.PutAsJsonAsync("/v1/topics/scanned", new { partitions = 1 }));
        using var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        using (var app = await delivery.PutAsJsonAsync("/v1/apps/scanner", new { url = "http://10.1.2.3:8080" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, app.StatusCode);
            Assert.Contains("Delivery:Outbound:AllowedHosts", await app.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await delivery.GetAsync("/v1/apps/scanner")).StatusCode);
        using (var replay = await delivery.PostAsJsonAsync("/v1/replays", new { topic = "scanned", target = new { url = "http://10.1.2.3:22/" } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
            Assert.Contains("Delivery:Outbound:AllowedHosts", await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain("10.1.2.3", await delivery.GetStringAsync("/v1/replays"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replay_URL_with_credentials_is_a_400_and_no_listing_shows_them()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        await Created(admin.PutAsJsonAsync("/v1/topics/exported", new { partitions = 1 }));
        using var delivery = SecureBroker.Http(_broker.DeliveryHttp, SecureBroker.AdminKey);
        using (var replay = await delivery.PostAsJsonAsync("/v1/replays", new { topic = "exported", target = new { url = "http://user:s3cr3t@127.0.0.1:9/records" } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
            var body = await replay.Content.ReadAsStringAsync();
            Assert.Contains("credentials", body, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3t", body, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("s3cr3t", await delivery.GetStringAsync("/v1/replays"), StringComparison.Ordinal);
        using var anonymous = SecureBroker.Http(_broker.DeliveryHttp, null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/replays")).StatusCode);
    }

    // ---- the schema bomb ----------------------------------------------------------------------------------------------

    /// <summary>
    /// The bomb is within the registry's limits (nesting 64, 10,000 types), so it registers; validation walks no record
    /// whose value takes no bytes, so the record costs microseconds. In depth: tests/Broker.Schemas.Tests/AvroComplexityTests.cs
    /// and tests/SchemaRegistry.Tests/Api/SchemaBombTests.cs.
    /// </summary>
    [Fact]
    public async Task The_schema_bomb_registers_and_a_6_byte_record_against_it_is_checked_in_well_under_a_second()
    {
        using var registry = SecureBroker.Http(_broker.Registry, SecureBroker.AdminKey);
        // A union of 31 records, each with two fields of the next; the last one's field is null: R0's value is zero bytes.
        var bomb = AvroBombs.UnionRoot(30, leaf: "null");
        using var registered = await registry.PostAsync("/subjects/bombed-value/versions", Registry(new { schema = bomb }));
        var registration = await registered.Content.ReadAsStringAsync();
        Assert.True(registered.IsSuccessStatusCode, registration);
        var id = JsonDocument.Parse(registration).RootElement.GetProperty("id").GetInt32();

        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        await Created(admin.PutAsJsonAsync("/v1/topics/bombed", new { partitions = 1, schemaSubject = "bombed-value" }));
        // Magic byte, schema id, then R0 (union branch 30, zigzag 60): six bytes.
        var record = new byte[6];
        BinaryPrimitives.WriteInt32BigEndian(record.AsSpan(1), id);
        record[5] = 60;
        using var ingest = SecureBroker.Http(_broker.IngestHttp, SecureBroker.AdminKey);
        var times = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            using var produced = await ingest.PostAsJsonAsync("/v1/topics/bombed/records", new { records = new[] { new { valueBase64 = Convert.ToBase64String(record) } } });
            times.Add(clock.Elapsed);
            Assert.True(produced.IsSuccessStatusCode, await produced.Content.ReadAsStringAsync());
        }
        // The first fetches and parses the schema; the others are the check alone (38 s of CPU before).
        Assert.True(times[0] < TimeSpan.FromSeconds(10) && times.Skip(1).All(t => t < TimeSpan.FromSeconds(1)), string.Join(", ", times));

        // A branch the union does not have is refused as quickly.
        record[5] = 62;
        using var refused = await ingest.PostAsJsonAsync("/v1/topics/bombed/records", new { records = new[] { new { valueBase64 = Convert.ToBase64String(record) } } });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    // ---- the partition flood ------------------------------------------------------------------------------------------

    /// <summary>
    /// Storage:MaxPartitions under concurrency and across instances in depth: tests/Broker.Storage.Tests/Topics/PartitionLimitTests.cs;
    /// the idle tiering pass (one Redis command whatever the partitions): the tiering tests (docs/tiering.md).
    /// </summary>
    [Fact]
    public async Task Four_hundred_topics_of_1024_partitions_stop_at_Storage_MaxPartitions()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("flood"), new Dictionary<string, string> { ["Storage:MaxPartitions"] = "2100" });
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        var statuses = new List<HttpStatusCode>();
        string? refusal = null;
        for (var i = 0; i < 400; i++)
        {
            using var answer = await admin.PutAsJsonAsync($"/v1/topics/flood-{i.ToString(CultureInfo.InvariantCulture)}", new { partitions = 1024 });
            statuses.Add(answer.StatusCode);
            if (answer.StatusCode == HttpStatusCode.Conflict)
            {
                refusal ??= await answer.Content.ReadAsStringAsync();
            }
        }
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(398, statuses.Count(s => s == HttpStatusCode.Conflict));
        Assert.Contains("Storage:MaxPartitions (2100)", refusal, StringComparison.Ordinal);
        var topics = await admin.GetFromJsonAsync<JsonElement>("/v1/topics");
        Assert.Equal(2048, topics.GetProperty("topics").EnumerateArray().Sum(t => t.GetProperty("partitions").GetInt32()));
    }

    // ---- the registry's 5xx ---------------------------------------------------------------------------------------------

    /// <summary>
    /// A broker of its own on a redis-server the test stops (the shared one serves every test). Every endpoint's answer
    /// during an outage, and its log, in depth: tests/SchemaRegistry.Tests/Api/StoreOutageTests.cs.
    /// </summary>
    [Fact]
    public async Task A_registry_5xx_during_a_Redis_outage_names_nothing_of_the_store()
    {
        await using var server = await RedisServerProcess.StartAsync(CancellationToken.None);
        await using (var broker = SecureBroker.Start($"{server.ConnectionString},connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000", "outage"))
        {
            using var admin = SecureBroker.Http(broker.Registry, SecureBroker.AdminKey);
            await Created(admin.PostAsync("/subjects/outage-value/versions", Registry(new { schema = Schema })));

            await server.ShutdownAsync();
            foreach (var path in new[] { "/subjects", "/subjects/outage-value/versions/latest", "/config" })
            {
                using var answer = await admin.GetAsync(path);
                var body = await answer.Content.ReadAsStringAsync();
                Assert.True((int)answer.StatusCode == 500, $"{path}: {(int)answer.StatusCode} {body}");
                var error = JsonDocument.Parse(body).RootElement;
                Assert.Equal(["error_code", "message"], error.EnumerateObject().Select(p => p.Name).Order());
                Assert.Contains(error.GetProperty("error_code").GetInt32(), new[] { 50001, 50002 });
                foreach (var internals in new[] { "Redis", "StackExchange", "Exception", "127.0.0.1", server.Port.ToString(CultureInfo.InvariantCulture), "outage" })
                {
                    Assert.DoesNotContain(internals, body.Replace("outage-value", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
                }
            }
            // Nobody gets further than before: a credential is still needed, Redis or not.
            using var anonymous = SecureBroker.Http(broker.Registry, null);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/subjects")).StatusCode);
        }
    }

    // ---- the ACL decision cache --------------------------------------------------------------------------------------

    [Fact]
    public async Task Bob_cannot_fill_the_ACL_decision_cache_with_megabyte_names()
    {
        var log = Log(SecureBroker.BobKey);
        var (heapBefore, _) = Memory();
        for (var i = 0; i < 100; i++)
        {
            var name = i.ToString(CultureInfo.InvariantCulture) + new string('x', 1024 * 1024);
            var refused = await Assert.ThrowsAsync<RpcException>(() => log.DescribeTopicAsync(new DescribeTopicRequest { Topic = name }).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
            Assert.True(refused.Status.Detail.Length < 1024, refused.Status.Detail[..200]);
        }
        var (heapAfter, _) = Memory();
        // Each decision kept would have held its name and its refusal: 400 MB for these.
        Assert.True(heapAfter - heapBefore < 64 * 1024 * 1024, $"GC heap {heapBefore >> 20} → {heapAfter >> 20} MiB");
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    private LogService.LogServiceClient Log(string? key)
    {
        var channel = SecureBroker.Channel(_broker.StorageGrpc, key);
        _channels.Add(channel);
        return new LogService.LogServiceClient(channel);
    }

    private async Task<long> CommittedAsync(string group, string topic) =>
        (await Log(SecureBroker.AdminKey).FetchOffsetsAsync(new FetchOffsetsRequest { Group = group, Topic = topic })).Offsets[0].Offset;

    private static StringContent Registry(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, RegistryType);

    private static async Task Created(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        Assert.True(response.IsSuccessStatusCode,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<T> UntilAsync<T>(Func<Task<T?>> probe) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "not within 30 s");
            await Task.Delay(100);
        }
    }

    private static (long Heap, long WorkingSet) Memory() => SharedBroker.Memory();
}
