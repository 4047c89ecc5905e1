extern alias storage;

using System.Net;
using Broker.Security.Tests.Hosting;
using Broker.Testing;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// An OIDC issuer served over HTTPS with a certificate of the private CA: JwtBearer fetches its metadata and keys
/// through the same trust (Tls:CaCertificate), and without it cannot, so no token is accepted.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class JwtTlsTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private TestIssuer _issuer = null!;

    public async Task InitializeAsync() => _issuer = await TestIssuer.StartAsync(_certificates);

    public async Task DisposeAsync()
    {
        await _issuer.DisposeAsync();
        _certificates.Dispose();
    }

    private Dictionary<string, string> StorageSettings(string prefix) => new()
    {
        ["ConnectionStrings:redis"] = redis.ConnectionString,
        ["Storage:KeyPrefix"] = prefix.TrimEnd(':'),
        ["Storage:HotTier"] = "redis",
        ["Storage:Segments:Store"] = "none",
        ["Auth:Jwt:Authority"] = _issuer.Authority,
        ["Auth:Jwt:Audience"] = "broker",
        ["Auth:Superusers:0"] = "root",
    };

    [Fact]
    public async Task Tokens_of_an_https_issuer_with_a_private_ca_are_accepted_trusting_tls_ca_certificate_and_not_without_it()
    {
        Assert.Equal("https", _issuer.Url.Scheme);
        var settings = StorageSettings(redis.NewPrefix("jwt-tls"));
        settings["Tls:CaCertificate"] = _certificates.CaFile;
        await using (var storage = TlsService.Start<storage::Program>(null, settings))
        {
            using var http = SecureBroker.Http(storage.Rest, _issuer.Token("root"));
            using var listed = await http.GetAsync("/v1/topics");
            Assert.True(listed.StatusCode == HttpStatusCode.OK, $"{listed.StatusCode}: {await listed.Content.ReadAsStringAsync()}");
        }

        await using (var blind = TlsService.Start<storage::Program>(null, StorageSettings(redis.NewPrefix("jwt-blind"))))
        {
            using var http = SecureBroker.Http(blind.Rest, _issuer.Token("root"));
            using var refused = await http.GetAsync("/v1/topics");
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{refused.StatusCode}: {await refused.Content.ReadAsStringAsync()}");
        }
    }
}
