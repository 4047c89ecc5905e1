using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;

namespace Broker.Security.Tests.Acls;

/// <summary>
/// ACLs as an operator manages them at Storage's /v1/acls and as every service then enforces them: bindings kept in
/// Redis, listed with filters, removed with the same body, bounded in number, prefixed and denying ACLs honoured in
/// other services, and the service key acting for a user held to that user's rights.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class AclApiTests(RedisFixture redis)
{
    private static object Binding(string principal, string type, string name, string[] operations, string pattern = "literal", string permission = "allow") =>
        new { principal, resource = new { type, name, pattern }, operations, permission };

    [Fact]
    public async Task Bindings_are_added_once_listed_by_filter_and_removed_with_the_same_body()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-api"));
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);

        var binding = Binding("alice", "topic", "orders-", ["read", "write"], pattern: "prefixed");
        using (var first = await admin.PostAsJsonAsync("/v1/acls", binding))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            var change = await first.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(2, change.GetProperty("changed").GetInt32());
        }
        using (var again = await admin.PostAsJsonAsync("/v1/acls", binding))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(0, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("changed").GetInt32());
        }
        (await admin.PostAsJsonAsync("/v1/acls", Binding("bob", "group", "billing", ["read"]))).EnsureSuccessStatusCode();

        var alices = await admin.GetFromJsonAsync<JsonElement>("/v1/acls?principal=alice");
        var listed = Assert.Single(alices.GetProperty("acls").EnumerateArray());
        Assert.Equal("prefixed", listed.GetProperty("resource").GetProperty("pattern").GetString());
        Assert.Equal(["read", "write"], listed.GetProperty("operations").EnumerateArray().Select(o => o.GetString()));
        // "match": every ACL that applies to a name, here the prefix's.
        var matching = await admin.GetFromJsonAsync<JsonElement>("/v1/acls?resourceType=topic&resourceName=orders-eu&pattern=match");
        Assert.Single(matching.GetProperty("acls").EnumerateArray());
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/v1/acls?resourceType=topic&resourceName=orders-eu")).GetProperty("acls").EnumerateArray());
        Assert.Single((await admin.GetFromJsonAsync<JsonElement>("/v1/acls?resourceType=group")).GetProperty("acls").EnumerateArray());

        using (var removed = await admin.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/v1/acls") { Content = JsonContent.Create(binding) }))
        {
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        }
        using (var gone = await admin.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/v1/acls") { Content = JsonContent.Create(binding) }))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/v1/acls?principal=alice")).GetProperty("acls").EnumerateArray());
    }

    [Fact]
    public async Task ACLs_live_in_Redis_and_survive_a_restart_of_every_service()
    {
        var prefix = redis.NewPrefix("acl-restart");
        await using (var first = SecureBroker.Start(redis.ConnectionString, prefix))
        {
            using var admin = SecureBroker.Http(first.StorageHttp, SecureBroker.AdminKey);
            (await admin.PutAsJsonAsync("/v1/topics/kept", new { partitions = 1 })).EnsureSuccessStatusCode();
            await first.GrantAsync("alice", "topic", "kept", "describe");
        }
        await using var second = SecureBroker.Start(redis.ConnectionString, prefix);
        await second.AclsAppliedAsync();
        using var alice = SecureBroker.Http(second.StorageHttp, SecureBroker.AliceKey);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync("/v1/topics/kept")).StatusCode);
        using var bob = SecureBroker.Http(second.StorageHttp, SecureBroker.BobKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await bob.GetAsync("/v1/topics/kept")).StatusCode);
    }

    [Theory]
    [InlineData("""{"resource":{"type":"topic","name":"t"},"operations":["read"]}""", "principal")]
    [InlineData("""{"principal":"alice","resource":{"type":"queue","name":"t"},"operations":["read"]}""", "resource.type")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t","pattern":"glob"},"operations":["read"]}""", "resource.pattern")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic"},"operations":["read"]}""", "resource.name")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t"},"operations":[]}""", "operations")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t"},"operations":["fly"]}""", "operations")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t"},"operations":["read,write"]}""", "operations")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t"},"operations":["read","write","create","delete","alter","describe","all","read"]}""", "operations")]
    [InlineData("""{"principal":"alice","resource":{"type":"topic","name":"t"},"operations":["read"],"permission":"maybe"}""", "permission")]
    [InlineData("""{"principal":"al ice","resource":{"type":"topic","name":"t"},"operations":["read"]}""", "principal")]
    [InlineData("""{"principal":"alice","resource":{"type":"cluster","name":"other"},"operations":["alter"]}""", "resource")]
    public async Task A_bad_binding_is_400_naming_the_field_and_nothing_is_kept(string body, string field)
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-bad"));
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        using var refused = await admin.PostAsync("/v1/acls", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/v1/acls")).GetProperty("acls").EnumerateArray());
    }

    [Fact]
    public async Task The_number_of_ACLs_is_bounded_by_Auth_MaxAcls()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-max"), new Dictionary<string, string> { ["Auth:MaxAcls"] = "3" });
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PostAsJsonAsync("/v1/acls", Binding("alice", "topic", "a", ["read", "write"]))).EnsureSuccessStatusCode();
        using var refused = await admin.PostAsJsonAsync("/v1/acls", Binding("alice", "topic", "b", ["read", "write"]));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("Auth:MaxAcls", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2, (await admin.GetFromJsonAsync<JsonElement>("/v1/acls")).GetProperty("acls")[0].GetProperty("operations").GetArrayLength());
        (await admin.PostAsJsonAsync("/v1/acls", Binding("alice", "topic", "b", ["read"]))).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Prefixed_allows_and_denies_are_enforced_by_Ingest_and_Delivery()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-enforce"));
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        foreach (var topic in new[] { "eu-orders", "eu-secrets", "us-orders" })
        {
            (await admin.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions = 1 })).EnsureSuccessStatusCode();
        }
        await broker.ChangeAclAsync(HttpMethod.Post, Binding("alice", "topic", "eu-", ["write", "read"], pattern: "prefixed"));
        await broker.ChangeAclAsync(HttpMethod.Post, Binding("alice", "topic", "eu-secrets", ["read"], permission: "deny"));
        await broker.GrantAsync("alice", "group", "*", "read");

        using var ingest = SecureBroker.Http(broker.IngestHttp, SecureBroker.AliceKey);
        var record = new { records = new[] { new { value = "x" } } };
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync("/v1/topics/eu-orders/records", record)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync("/v1/topics/eu-secrets/records", record)).StatusCode);
        using var other = await ingest.PostAsJsonAsync("/v1/topics/us-orders/records", record);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Contains("may not write topic 'us-orders'", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var delivery = SecureBroker.Http(broker.DeliveryHttp, SecureBroker.AliceKey);
        using var polled = await delivery.PostAsJsonAsync("/v1/groups/g/topics/eu-orders/poll", new { start = "earliest", waitMs = 5000 });
        Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
        using var denied = await delivery.PostAsJsonAsync("/v1/groups/g/topics/eu-secrets/poll", new { start = "earliest" });
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains("an ACL denies it", await denied.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Taking the prefix away is enforced within moments everywhere.
        await broker.ChangeAclAsync(HttpMethod.Delete, Binding("alice", "topic", "eu-", ["write", "read"], pattern: "prefixed"));
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PostAsJsonAsync("/v1/topics/eu-orders/records", record)).StatusCode);
    }

    [Fact]
    public async Task A_revoked_right_ends_a_consumers_stream_at_its_next_message()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-revoke"));
        using var admin = SecureBroker.Http(broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsJsonAsync("/v1/topics/revoked", new { partitions = 1 })).EnsureSuccessStatusCode();
        using var ingest = SecureBroker.Http(broker.IngestHttp, SecureBroker.AdminKey);
        (await ingest.PostAsJsonAsync("/v1/topics/revoked/records", new { records = new[] { new { value = 1 } } })).EnsureSuccessStatusCode();
        await broker.GrantAsync("alice", "topic", "revoked", "read");
        await broker.GrantAsync("alice", "group", "g", "read");

        using var channel = SecureBroker.Channel(broker.DeliveryGrpc, SecureBroker.AliceKey);
        using var stream = new Broker.Contracts.Delivery.DeliveryService.DeliveryServiceClient(channel).Subscribe();
        await stream.RequestStream.WriteAsync(new Broker.Contracts.Delivery.SubscribeRequest
        {
            Subscribe = new Broker.Contracts.Delivery.Subscribe { Group = "g", Topic = "revoked", Window = 10 },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var records = 0;
        while (records == 0 && await stream.ResponseStream.MoveNext(timeout.Token))
        {
            records += stream.ResponseStream.Current.Records?.Records_.Count ?? 0;
        }
        Assert.Equal(1, records);

        await broker.ChangeAclAsync(HttpMethod.Delete, Binding("alice", "topic", "revoked", ["read"]));
        (await ingest.PostAsJsonAsync("/v1/topics/revoked/records", new { records = new[] { new { value = 2 } } })).EnsureSuccessStatusCode();
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stream.ResponseStream.MoveNext(timeout.Token))
            {
                Assert.Null(stream.ResponseStream.Current.Records);
            }
        });
        Assert.Equal(StatusCode.PermissionDenied, ended.StatusCode);
        Assert.Contains("may not read topic 'revoked'", ended.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_service_key_acting_for_a_user_has_that_users_rights_and_nobody_else_can_act_for_anyone()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("acl-behalf"));
        using var service = SecureBroker.Channel(broker.StorageGrpc, SecureBroker.ServiceKey);
        var log = new LogService.LogServiceClient(service);
        var asAlice = new Metadata { { "x-broker-principal", "alice" } };

        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await log.EnsureTopicAsync(new EnsureTopicRequest { Topic = "behalf", Partitions = 1 }, asAlice));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("Principal 'alice' may not create topic 'behalf'", refused.Status.Detail, StringComparison.Ordinal);
        await broker.GrantAsync("alice", "topic", "behalf", "create");
        Assert.True((await log.EnsureTopicAsync(new EnsureTopicRequest { Topic = "behalf", Partitions = 1 }, asAlice)).Created);
        // As itself the service may do anything.
        await log.DescribeTopicAsync(new DescribeTopicRequest { Topic = "behalf" });

        // bob naming admin in the header is still bob.
        using var bobChannel = SecureBroker.Channel(broker.StorageGrpc, SecureBroker.BobKey);
        var bob = new LogService.LogServiceClient(bobChannel);
        var stillBob = await Assert.ThrowsAsync<RpcException>(async () =>
            await bob.DescribeTopicAsync(new DescribeTopicRequest { Topic = "behalf" }, new Metadata { { "x-broker-principal", "admin" } }));
        Assert.Equal(StatusCode.PermissionDenied, stillBob.StatusCode);
        Assert.Contains("Principal 'bob'", stillBob.Status.Detail, StringComparison.Ordinal);

        // An end user may not commit a group's offsets without read on the group, whatever it may do on the topic.
        await broker.GrantAsync("bob", "topic", "behalf", "read");
        var commit = await Assert.ThrowsAsync<RpcException>(async () => await bob.CommitOffsetsAsync(new CommitOffsetsRequest
        {
            Group = "billing",
            Topic = "behalf",
            Offsets = { new GroupOffset { Partition = 0, Offset = 0 } },
        }));
        Assert.Equal(StatusCode.PermissionDenied, commit.StatusCode);
        Assert.Contains("may not read group 'billing'", commit.Status.Detail, StringComparison.Ordinal);
    }
}
