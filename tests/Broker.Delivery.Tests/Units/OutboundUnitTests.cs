using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using Broker.Delivery.Outbound;
using Grpc.Core;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Tests.Units;

/// <summary>Delivery:Outbound: the allow-list's entries, what it allows by URL and by connected address, redaction, and what callers are told.</summary>
[Trait("Category", "Unit")]
public sealed class OutboundUnitTests
{
    [Theory]
    [InlineData("orders", "Name", "orders", null)]
    [InlineData("Orders.Internal.", "Name", "orders.internal", null)]
    [InlineData("orders:8080", "Name", "orders", 8080)]
    [InlineData("*.apps.internal", "Suffix", ".apps.internal", null)]
    [InlineData("*.apps.internal:443", "Suffix", ".apps.internal", 443)]
    [InlineData("10.0.0.7", "Address", "10.0.0.7", null)]
    [InlineData("10.0.0.7:9000", "Address", "10.0.0.7", 9000)]
    [InlineData("::1", "Address", "::1", null)]
    [InlineData("[::1]:5000", "Address", "::1", 5000)]
    public void Allow_list_entries_parse(string text, string kind, string host, int? port)
    {
        var entry = AllowedHost.Parse(text);
        Assert.NotNull(entry);
        Assert.Equal(kind, entry.Kind.ToString());
        Assert.Equal(host, entry.Host);
        Assert.Equal(port, entry.Port);
    }

    [Theory]
    [InlineData("")]
    [InlineData("*")]
    [InlineData("*.")]
    [InlineData("orders:0")]
    [InlineData("orders:70000")]
    [InlineData("orders:http")]
    [InlineData("http://orders")]
    [InlineData("a..b")]
    [InlineData("10.0.0")]
    [InlineData("999.0.0.1")]
    [InlineData("[::1")]
    [InlineData("[10.0.0.1]:80")]
    [InlineData("or ders")]
    [InlineData("*.*.x")]
    public void Malformed_entries_fail_validation_naming_the_setting(string text)
    {
        Assert.Null(AllowedHost.Parse(text));
        var options = new OutboundOptions { AllowedHosts = [text] };
        var results = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true));
        Assert.Contains("Delivery:Outbound:AllowedHosts", results[0].ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/", true)]
    [InlineData("http://127.8.9.1/", true)]
    [InlineData("http://localhost:8080/", true)]
    [InlineData("http://LOCALHOST./", true)]
    [InlineData("http://[::1]:5000/", true)]
    [InlineData("http://[::ffff:127.0.0.1]:5000/", true)]
    [InlineData("http://0.0.0.0:5000/", false)]
    [InlineData("http://10.0.0.1/", false)]
    [InlineData("http://169.254.169.254/latest/meta-data", false)]
    [InlineData("http://orders:8080/", false)]
    [InlineData("http://localhost.example.com/", false)]
    public void An_empty_list_in_Development_allows_loopback_only(string url, bool allowed)
    {
        var refusal = Policy([], development: true).Check(new Uri(url));
        Assert.Equal(allowed, refusal is null);
        if (!allowed)
        {
            Assert.Contains("is not in Delivery:Outbound:AllowedHosts", refusal, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/")]
    [InlineData("http://localhost/")]
    [InlineData("https://orders.example.com/")]
    public void An_empty_list_outside_Development_allows_nothing(string url)
    {
        var refusal = Policy([], development: false).Check(new Uri(url));
        Assert.NotNull(refusal);
        Assert.Contains("Delivery:Outbound:AllowedHosts (it is empty: no outbound calls outside Development)", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://orders:8080/", true)]
    [InlineData("http://orders:8081/", false)]
    [InlineData("http://orders/", false)]
    [InlineData("https://a.apps.internal/x", true)]
    [InlineData("http://b.c.apps.internal:9999/", true)]
    [InlineData("http://apps.internal/", false)]
    [InlineData("http://evilapps.internal/", false)]
    [InlineData("http://10.0.0.7:1234/", true)]
    [InlineData("http://[::ffff:10.0.0.7]/", true)]
    [InlineData("http://[::1]:9000/", true)]
    [InlineData("http://[::1]:9001/", false)]
    [InlineData("http://127.0.0.1:9000/", false)]
    [InlineData("http://localhost:9000/", false)]
    public void A_list_allows_what_it_names_and_nothing_else_not_even_loopback(string url, bool allowed)
    {
        var policy = Policy(["orders:8080", "*.apps.internal", "10.0.0.7", "[::1]:9000"], development: true);
        Assert.Equal(allowed, policy.Check(new Uri(url)) is null);
    }

    [Fact]
    public void Credentials_in_a_URL_are_refused_and_redacted()
    {
        var policy = Policy([], development: true);
        var refusal = policy.Check(new Uri("http://user:secret@127.0.0.1:5000/x"));
        Assert.NotNull(refusal);
        Assert.Contains("credentials", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", refusal, StringComparison.Ordinal);

        Assert.Equal("http://***@127.0.0.1:5000/x?q=1", OutboundPolicy.Redact("http://user:secret@127.0.0.1:5000/x?q=1"));
        Assert.Equal("https://***@orders/", OutboundPolicy.Redact("https://token@orders/"));
        Assert.Equal("http://orders:8080/", OutboundPolicy.Redact("http://orders:8080/"));
    }

    [Fact]
    public void Connections_go_only_to_addresses_the_list_allows()
    {
        var loopbackOnly = Policy([], development: true);
        Assert.Null(loopbackOnly.CheckAddress("localhost", 80, IPAddress.Loopback));
        Assert.Null(loopbackOnly.CheckAddress("localhost", 80, IPAddress.IPv6Loopback));
        // localhost that resolves elsewhere is not loopback.
        Assert.NotNull(loopbackOnly.CheckAddress("localhost", 80, IPAddress.Parse("10.1.2.3")));
        Assert.NotNull(loopbackOnly.CheckAddress("0.0.0.0", 80, IPAddress.Any));
        Assert.NotNull(Policy([], development: false).CheckAddress("localhost", 80, IPAddress.Loopback));

        var listed = Policy(["orders", "*.apps.internal", "10.0.0.7", "localhost"], development: false);
        Assert.Null(listed.CheckAddress("orders", 80, IPAddress.Parse("10.9.8.7")));
        Assert.Null(listed.CheckAddress("a.apps.internal", 80, IPAddress.Parse("192.168.1.5")));
        Assert.Null(listed.CheckAddress("10.0.0.7", 80, IPAddress.Parse("10.0.0.7")));
        Assert.Null(listed.CheckAddress("localhost", 80, IPAddress.Loopback));
        // A listed name never leads to loopback, link-local (cloud metadata) or unspecified addresses.
        Assert.NotNull(listed.CheckAddress("orders", 80, IPAddress.Loopback));
        Assert.NotNull(listed.CheckAddress("orders", 80, IPAddress.Parse("169.254.169.254")));
        Assert.NotNull(listed.CheckAddress("a.apps.internal", 80, IPAddress.Parse("fe80::1")));
        Assert.NotNull(listed.CheckAddress("orders", 80, IPAddress.Any));
        // A host the list does not name (a setting changed since the target was declared).
        Assert.NotNull(listed.CheckAddress("billing", 80, IPAddress.Parse("10.9.8.7")));
        Assert.NotNull(listed.CheckAddress("10.0.0.8", 80, IPAddress.Parse("10.0.0.8")));
        // Unless the list names the address itself.
        Assert.Null(Policy(["orders", "127.0.0.1"], development: false).CheckAddress("orders", 80, IPAddress.Loopback));
    }

    [Fact]
    public void Callers_learn_whether_the_target_answered_and_no_more()
    {
        var refused = new HttpRequestException("Connection refused (127.0.0.1:5000)", new SocketException((int)SocketError.ConnectionRefused));
        var timedOut = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 1 seconds elapsing.");
        var reset = new IOException("Unable to read data from the transport connection: Connection reset by peer.");
        var grpcRefused = new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call. HttpRequestException: Connection refused (127.0.0.1:5000)", refused));
        Assert.All(new Exception[] { refused, timedOut, reset, grpcRefused }, ex => Assert.Equal("the target did not answer", OutboundErrors.Describe(ex)));

        Assert.Equal("refused by the target (HTTP 302)",
            OutboundErrors.Describe(new RpcException(new Status(StatusCode.Unknown, "Bad gRPC response. HTTP status code: 302"))));
        Assert.Equal("refused by the target (gRPC Internal)", OutboundErrors.Describe(new RpcException(new Status(StatusCode.Internal, "app said something"))));
        Assert.Equal("refused by the target (HTTP 503)",
            OutboundErrors.Describe(new HttpRequestException("x", null, HttpStatusCode.ServiceUnavailable)));
        // Delivery's own refusal, wherever it was thrown, keeps its words.
        var policy = new HttpRequestException("wrapped", new OutboundException("host 'x' is not in Delivery:Outbound:AllowedHosts."));
        Assert.Equal("host 'x' is not in Delivery:Outbound:AllowedHosts.", OutboundErrors.Describe(policy));
        Assert.Contains("Connection refused", OutboundErrors.Details(refused), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bodies_are_read_up_to_the_cap_and_not_a_byte_further()
    {
        using var small = new HttpResponseMessage { Content = new StreamContent(new MemoryStream(new byte[1000])) };
        Assert.Equal(1000, (await BoundedBody.ReadAsync(small, 1024, "GET /x", CancellationToken.None)).Length);

        using var exact = new HttpResponseMessage { Content = new StreamContent(new MemoryStream(new byte[1024])) };
        Assert.Equal(1024, (await BoundedBody.ReadAsync(exact, 1024, "GET /x", CancellationToken.None)).Length);

        var endless = new CountingStream();
        using var large = new HttpResponseMessage { Content = new StreamContent(endless) };
        var ex = await Assert.ThrowsAsync<OutboundException>(() => BoundedBody.ReadAsync(large, 1024, "GET /dapr/subscribe", CancellationToken.None));
        Assert.Equal("the answer to GET /dapr/subscribe is larger than 1 KiB (1024 bytes), the most Delivery reads (Delivery:Outbound:MaxResponseBytes)", ex.Message);
        Assert.InRange(endless.Served, 1025, 1025 + 16 * 1024);

        // A Content-Length past the cap is refused before anything is read.
        var declared = new CountingStream();
        using var announced = new HttpResponseMessage { Content = new StreamContent(declared) };
        announced.Content.Headers.ContentLength = 50_000_000;
        await Assert.ThrowsAsync<OutboundException>(() => BoundedBody.ReadAsync(announced, 1024, "GET /x", CancellationToken.None));
        Assert.Equal(0, declared.Served);
    }

    private static OutboundPolicy Policy(List<string> hosts, bool development) =>
        new(new FixedMonitor(new OutboundOptions { AllowedHosts = hosts }), new Environment(development ? Environments.Development : Environments.Production));

    private sealed class FixedMonitor(OutboundOptions value) : IOptionsMonitor<OutboundOptions>
    {
        public OutboundOptions CurrentValue => value;

        public OutboundOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<OutboundOptions, string?> listener) => null;
    }

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "Broker.Delivery";
        public string ContentRootPath { get; set; } = "";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }

    /// <summary>An endless body that counts what was read of it.</summary>
    private sealed class CountingStream : Stream
    {
        public long Served { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)' ', offset, count);
            Served += count;
            return count;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
