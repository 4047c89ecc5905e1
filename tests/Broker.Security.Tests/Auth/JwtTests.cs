using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Broker.Contracts.Storage;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Grpc.Core;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Security.Tests.Auth;

/// <summary>JWTs from an OIDC issuer (a real one on a loopback port, with a key the test made): the token's subject is the principal.</summary>
[Collection(RedisCollection.Name)]
public sealed class JwtTests(RedisFixture redis) : IAsyncLifetime
{
    private TestIssuer _issuer = null!;
    private SecureBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _issuer = await TestIssuer.StartAsync();
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("jwt"), new Dictionary<string, string>
        {
            ["Auth:Jwt:Authority"] = _issuer.Authority,
            ["Auth:Jwt:Audience"] = "broker",
            // The test issuer speaks plain HTTP on loopback; a real one is reached over HTTPS.
            ["Auth:Jwt:RequireHttpsMetadata"] = "false",
        });
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task A_good_token_is_its_subject_held_to_that_principals_ACLs_over_REST_and_gRPC()
    {
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        (await admin.PutAsJsonAsync("/v1/topics/jwt-orders", new { partitions = 1 })).EnsureSuccessStatusCode();
        var token = _issuer.Token("carol");

        using var carol = SecureBroker.Http(_broker.StorageHttp, token);
        using var refused = await carol.GetAsync("/v1/topics/jwt-orders");
        Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{refused.StatusCode}: {await refused.Content.ReadAsStringAsync()}");
        Assert.Contains("Principal 'carol' may not describe topic 'jwt-orders'", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await _broker.GrantAsync("carol", "topic", "jwt-orders", "describe");
        using var allowed = await carol.GetAsync("/v1/topics/jwt-orders");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

        using var channel = SecureBroker.Channel(_broker.StorageGrpc, token);
        var described = await new LogService.LogServiceClient(channel).DescribeTopicAsync(new DescribeTopicRequest { Topic = "jwt-orders" });
        Assert.Equal("jwt-orders", described.Topic);
        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await new LogService.LogServiceClient(channel).ReadAsync(new ReadRequest { Topic = "jwt-orders", Partition = 0, Offset = 0, MaxBytes = 1024 }));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
    }

    [Fact]
    public async Task Expired_wrongly_addressed_foreign_and_forged_tokens_are_401_saying_which()
    {
        var otherKey = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key-1" };
        var cases = new (string Token, string Says)[]
        {
            (_issuer.Token("carol", expiresIn: TimeSpan.FromMinutes(-30)), "expired"),
            (_issuer.Token("carol", audience: "another-service"), "audience"),
            (_issuer.Token("carol", issuer: "http://elsewhere.example"), "issuer"),
            (_issuer.Token("carol", signedWith: otherKey), "signature"),
        };
        foreach (var (token, says) in cases)
        {
            using var http = SecureBroker.Http(_broker.StorageHttp, token);
            using var response = await http.GetAsync("/v1/topics");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains(says, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(token, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            using var channel = SecureBroker.Channel(_broker.IngestGrpc, token);
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await new LogService.LogServiceClient(SecureBroker.Channel(_broker.StorageGrpc, token)).DescribeTopicAsync(new DescribeTopicRequest { Topic = "x" }));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Contains(says, refused.Status.Detail, StringComparison.OrdinalIgnoreCase);
        }

        // API keys still work beside the issuer's tokens.
        using var admin = SecureBroker.Http(_broker.StorageHttp, SecureBroker.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v1/topics")).StatusCode);
    }
}
