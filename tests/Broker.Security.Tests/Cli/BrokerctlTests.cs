using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Broker.Security.Tests.Hosting;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace Broker.Security.Tests.Cli;

/// <summary>
/// brokerctl, run as a process, against a broker with keys and ACLs: refusals said plainly (not authenticated and how
/// to give a token, not allowed and which right), --token and BROKER_TOKEN on REST and gRPC calls, ACLs managed with
/// acls add, list and remove, bad input refused before any call, and no run ever printing a key.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class BrokerctlTests(RedisFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] s_secrets = [SecureBroker.AdminKey, SecureBroker.AliceKey, SecureBroker.BobKey, SecureBroker.ServiceKey, SecureBroker.WrongKey];

    private static readonly Dictionary<string, string> s_noEnvironment = [];

    private SecureBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("brokerctl"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Without_a_token_every_service_says_not_authenticated_and_how_to_give_one()
    {
        var topics = await RunAsync(s_noEnvironment, "topics", "list");
        Assert.True(topics.ExitCode == 1, topics.ToString());
        Assert.Contains("brokerctl: not authenticated: ", topics.Error, StringComparison.Ordinal);
        Assert.Contains("(give --token or set BROKER_TOKEN)", topics.Error, StringComparison.Ordinal);

        // The registry answers in Confluent's shape; brokerctl says it the same way.
        var schemas = await RunAsync(s_noEnvironment, "schemas", "list");
        Assert.True(schemas.ExitCode == 1, schemas.ToString());
        Assert.Contains("brokerctl: not authenticated: ", schemas.Error, StringComparison.Ordinal);
        Assert.Contains("--token", schemas.Error, StringComparison.Ordinal);

        var wrong = await RunAsync(Token(SecureBroker.WrongKey), "topics", "list", "--json");
        Assert.True(wrong.ExitCode == 1, wrong.ToString());
        Assert.Contains("brokerctl: not authenticated: ", wrong.Error, StringComparison.Ordinal);
        Assert.Contains("(give --token or set BROKER_TOKEN)", wrong.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_principal_without_the_right_is_told_which_and_the_option_wins_over_the_variable()
    {
        var create = await RunAsync(Token(SecureBroker.BobKey), "topics", "create", "x");
        Assert.True(create.ExitCode == 1, create.ToString());
        Assert.Contains("brokerctl: not allowed: ", create.Error, StringComparison.Ordinal);
        Assert.Contains("create on topic 'x'", create.Error, StringComparison.Ordinal);

        var register = await RunAsync(Token(SecureBroker.BobKey), "schemas", "register", "x-value", """{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}""");
        Assert.True(register.ExitCode == 1, register.ToString());
        Assert.Contains("brokerctl: not allowed: ", register.Error, StringComparison.Ordinal);
        Assert.Contains("x-value", register.Error, StringComparison.Ordinal);

        var asAdmin = await RunAsync(Token(SecureBroker.BobKey), "topics", "create", "x", "--token", SecureBroker.AdminKey);
        Assert.True(asAdmin.ExitCode == 0, asAdmin.ToString());
        Assert.Contains("Topic x", asAdmin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Acls_added_listed_and_removed_with_brokerctl_decide_what_alice_may_do()
    {
        await SucceedAsync(s_noEnvironment, "topics", "create", "orders", "--token", SecureBroker.AdminKey);

        var added = await SucceedAsync(s_noEnvironment, "acls", "add", "alice", "--topic", "orders", "--operation", "write", "--operation", "read", "--token", SecureBroker.AdminKey);
        Assert.Contains("Added: allow alice read, write on topic 'orders'.", added, StringComparison.Ordinal);
        var again = await SucceedAsync(s_noEnvironment, "acls", "add", "alice", "--topic", "orders", "--operation", "read", "--token", SecureBroker.AdminKey);
        Assert.Contains("Already there", again, StringComparison.Ordinal);
        await _broker.AclsAppliedAsync();

        var listed = JsonDocument.Parse(await SucceedAsync(s_noEnvironment, "acls", "list", "--principal", "alice", "--json", "--token", SecureBroker.AdminKey)).RootElement;
        var binding = Assert.Single(listed.GetProperty("acls").EnumerateArray());
        Assert.Equal("alice", binding.GetProperty("principal").GetString());
        Assert.Equal("topic", binding.GetProperty("resource").GetProperty("type").GetString());
        Assert.Equal("orders", binding.GetProperty("resource").GetProperty("name").GetString());
        Assert.Equal("literal", binding.GetProperty("resource").GetProperty("pattern").GetString());
        string[] operations = ["read", "write"];
        Assert.Equal(operations, binding.GetProperty("operations").EnumerateArray().Select(o => o.GetString()!).Order());
        Assert.Equal("allow", binding.GetProperty("permission").GetString());
        var table = await SucceedAsync(Token(SecureBroker.AdminKey), "acls", "list", "--resource-type", "topic", "--resource", "orders", "--pattern", "match");
        Assert.Contains("alice", table, StringComparison.Ordinal);
        Assert.Contains("read, write", table, StringComparison.Ordinal);

        await SucceedAsync(s_noEnvironment, "produce", "orders", """{"id":1}""", "--key", "k", "--token", SecureBroker.AliceKey);
        var noGroup = await RunAsync(s_noEnvironment, "consume", "orders", "--group", "g", "--wait-ms", "200", "--token", SecureBroker.AliceKey);
        Assert.True(noGroup.ExitCode == 1, noGroup.ToString());
        Assert.Contains("brokerctl: not allowed: ", noGroup.Error, StringComparison.Ordinal);
        Assert.Contains("group 'g'", noGroup.Error, StringComparison.Ordinal);

        await SucceedAsync(s_noEnvironment, "acls", "add", "alice", "--group", "g", "--operation", "read", "--token", SecureBroker.AdminKey);
        await _broker.AclsAppliedAsync();
        var consumed = await SucceedAsync(s_noEnvironment, "consume", "orders", "--group", "g", "--json", "--wait-ms", "500", "--token", SecureBroker.AliceKey);
        var record = JsonDocument.Parse(Assert.Single(consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal(1, record.GetProperty("value").GetProperty("id").GetInt32());

        var removed = await SucceedAsync(s_noEnvironment, "acls", "remove", "alice", "--topic", "orders", "--operation", "write", "--token", SecureBroker.AdminKey);
        Assert.Contains("Removed: allow alice write on topic 'orders'.", removed, StringComparison.Ordinal);
        await _broker.AclsAppliedAsync();
        var refused = await RunAsync(Token(SecureBroker.AliceKey), "produce", "orders", """{"id":2}""");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("brokerctl: not allowed: ", refused.Error, StringComparison.Ordinal);
        Assert.Contains("write on topic 'orders'", refused.Error, StringComparison.Ordinal);

        var gone = await RunAsync(Token(SecureBroker.AdminKey), "acls", "remove", "alice", "--topic", "orders", "--operation", "write");
        Assert.True(gone.ExitCode == 1, gone.ToString());
        Assert.Contains("404", gone.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_sends_the_token_on_its_grpc_stream_and_says_a_refusal_there_plainly()
    {
        var bench = JsonDocument.Parse(await SucceedAsync(Token(SecureBroker.AdminKey), "bench", "--records", "500", "--batch", "50", "--json")).RootElement;
        Assert.True(bench.GetProperty("verified").GetBoolean());

        // Alice may make, describe and delete bench topics but not write to them: Ingest's gRPC stream refuses her.
        await SucceedAsync(Token(SecureBroker.AdminKey), "acls", "add", "alice", "--topic", "brokerctl-bench-", "--prefixed",
            "--operation", "create", "--operation", "describe", "--operation", "delete");
        await _broker.AclsAppliedAsync();
        var refused = await RunAsync(Token(SecureBroker.AliceKey), "bench", "--records", "5000", "--batch", "10", "--concurrency", "4");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("brokerctl: not allowed: ", refused.Error, StringComparison.Ordinal);
        Assert.Contains("write on topic 'brokerctl-bench-", refused.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Name the resource", "acls", "add", "alice", "--operation", "read")]
    [InlineData("Name one resource", "acls", "add", "alice", "--topic", "orders", "--group", "g", "--operation", "read")]
    [InlineData("'rwx' is not an operation", "acls", "remove", "alice", "--topic", "orders", "--operation", "rwx")]
    [InlineData("Name the operations", "acls", "add", "alice", "--topic", "orders")]
    [InlineData("--prefixed", "acls", "add", "alice", "--cluster", "--prefixed", "--operation", "alter")]
    [InlineData("--pattern filters by --resource", "acls", "list", "--pattern", "match")]
    [InlineData("--resource-type is topic, group, subject or cluster", "acls", "list", "--resource-type", "queue")]
    [InlineData("--ca-cert: no file", "topics", "list", "--ca-cert", "/no/such/ca.pem")]
    public async Task Bad_input_exits_2_before_any_call(string message, params string[] arguments)
    {
        // Storage is unreachable: a call would exit 3.
        var result = await RunAsync(Token(SecureBroker.AdminKey), [.. arguments, "--storage", "http://127.0.0.1:1"], pointAtBroker: false);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_that_is_no_credential_is_bad_input_and_not_echoed()
    {
        var result = await RunAsync(s_noEnvironment, ["topics", "list", "--token", "alice key\twith-spaces-0123456789"], pointAtBroker: true);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("not a valid credential", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("with-spaces", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_https_service_signed_by_a_private_ca_is_trusted_with_ca_cert_and_gets_the_token()
    {
        using var ca = NewCertificate("CN=brokerctl test CA", issuer: null);
        using var leaf = NewCertificate("CN=127.0.0.1", ca);
        var caFile = Path.Combine(Path.GetTempPath(), $"brokerctl-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, ca.ExportCertificatePem());
        var authorization = "";
        var builder = WebApplication.CreateSlimBuilder();
        // Only the endpoint below: not the Kestrel endpoints of whichever service's appsettings.json was copied here.
        builder.Configuration.Sources.Clear();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(leaf)));
        await using var app = builder.Build();
        app.MapGet("/v1/topics", (HttpContext context) =>
        {
            authorization = context.Request.Headers.Authorization.ToString();
            return Results.Text("""{"topics":[]}""", "application/json");
        });
        await app.StartAsync();
        try
        {
            var storage = app.Urls.Single();
            var untrusted = await RunAsync(Token(SecureBroker.AdminKey), ["topics", "list", "--storage", storage], pointAtBroker: false);
            Assert.True(untrusted.ExitCode == 3, untrusted.ToString());
            Assert.Contains("--ca-cert", untrusted.Error, StringComparison.Ordinal);

            var trusted = await RunAsync(Token(SecureBroker.AdminKey), ["topics", "list", "--json", "--storage", storage, "--ca-cert", caFile], pointAtBroker: false);
            Assert.True(trusted.ExitCode == 0, trusted.ToString());
            Assert.Equal($"Bearer {SecureBroker.AdminKey}", authorization);

            var fromVariable = await RunAsync(new Dictionary<string, string> { ["BROKER_CA_CERT"] = caFile }, ["topics", "list", "--json", "--storage", storage], pointAtBroker: false);
            Assert.True(fromVariable.ExitCode == 0, fromVariable.ToString());

            // The CA vouches for 127.0.0.1, not for localhost: a name mismatch is never excused.
            var wrongName = await RunAsync(s_noEnvironment, ["topics", "list", "--storage", storage.Replace("127.0.0.1", "localhost", StringComparison.Ordinal), "--ca-cert", caFile], pointAtBroker: false);
            Assert.True(wrongName.ExitCode == 3, wrongName.ToString());
            Assert.Contains("not for this host name", wrongName.Error, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
            File.Delete(caFile);
        }
    }

    /// <summary>A CA (no issuer) or a TLS server certificate for 127.0.0.1 that it signs.</summary>
    private static X509Certificate2 NewCertificate(string subject, X509Certificate2? issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        if (issuer is null)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
        }
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = request.Create(issuer, now.AddMinutes(-5), now.AddHours(1), [1, 2, 3, 4, 5, 6, 7, 8]);
        using var withKey = signed.CopyWithPrivateKey(key);
        // Kestrel wants a certificate whose key it can use as loaded from a store: a PKCS#12 round trip.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static Dictionary<string, string> Token(string key) => new() { ["BROKER_TOKEN"] = key };

    private Task<BrokerctlProcess.Result> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        RunAsync(environment, arguments, pointAtBroker: true);

    /// <summary>Runs brokerctl (pointed at this test's broker) and checks that no key shows in what it printed.</summary>
    private async Task<BrokerctlProcess.Result> RunAsync(IReadOnlyDictionary<string, string> environment, string[] arguments, bool pointAtBroker)
    {
        string[] endpoints = pointAtBroker
            ?
            [
                "--storage", _broker.StorageHttp.ToString(), "--ingest", _broker.IngestHttp.ToString(), "--ingest-grpc", _broker.IngestGrpc.ToString(),
                "--delivery", _broker.DeliveryHttp.ToString(), "--registry", _broker.Registry.ToString(),
            ]
            : [];
        var result = await BrokerctlProcess.RunAsync(environment, [.. arguments, .. endpoints]);
        output.WriteLine($"brokerctl {string.Join(' ', BrokerctlProcess.Redacted(arguments))}: exit {result.ExitCode}\n{result.Output}{result.Error}");
        foreach (var secret in s_secrets)
        {
            Assert.False(result.All.Contains(secret, StringComparison.Ordinal),
                $"brokerctl {string.Join(' ', BrokerctlProcess.Redacted(arguments))} printed a key ({result.ExitCode}).");
        }
        return result;
    }

    private async Task<string> SucceedAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var result = await RunAsync(environment, arguments);
        Assert.True(result.ExitCode == 0, $"brokerctl {string.Join(' ', BrokerctlProcess.Redacted(arguments))}: {result}");
        return result.Output;
    }
}
