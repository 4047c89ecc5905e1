extern alias delivery;
extern alias ingest;
extern alias registry;
extern alias storage;

using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Broker.Security.Tests.Tls;
using Broker.ServiceDefaults.Security.Acls;
using Broker.Testing;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Security.Tests.Hosting;

/// <summary>
/// The broker with authentication on, as a deployment runs it: Storage, Ingest, Delivery and the schema registry,
/// each on its own loopback ports (Kestrel: HTTP/1.1 for REST, h2c for gRPC), finding each other by address, on one
/// Redis key prefix; API keys for a superuser (admin), two principals with no rights of their own (alice, bob) and
/// the services' shared key. With <see cref="TestCertificates"/>, every endpoint is https only (REST on HTTP/1.1, gRPC
/// on HTTP/2, both over TLS with the test CA's server certificate) and the services call each other trusting that CA
/// (Tls:CaCertificate).
/// </summary>
public sealed class SecureBroker : IAsyncDisposable
{
    public const string AdminKey = "admin-key-0123456789abcdef";
    public const string AliceKey = "alice-key-0123456789abcdef";
    public const string BobKey = "bob-key-0123456789abcdef";
    public const string ServiceKey = "service-key-0123456789abcdef";
    public const string WrongKey = "wrong-key-0123456789abcdef";

    private readonly List<IAsyncDisposable> _services = [];
    private readonly WebApplicationFactory<storage::Program> _storage;
    private readonly TestCertificates? _tls;

    private SecureBroker(string redis, string prefix, IReadOnlyDictionary<string, string>? extra, TestCertificates? tls)
    {
        _tls = tls;
        prefix = prefix.TrimEnd(':');
        (_redis, _prefix) = (redis, prefix);
        var common = new Dictionary<string, string>
        {
            ["Auth:Keys:admin"] = AdminKey,
            ["Auth:Keys:alice"] = AliceKey,
            ["Auth:Keys:bob"] = BobKey,
            ["Auth:Superusers:0"] = "admin",
            ["Auth:ServiceKey"] = ServiceKey,
        };
        if (tls is not null)
        {
            foreach (var (key, value) in tls.KestrelCertificate())
            {
                common[key] = value;
            }
            common["Tls:CaCertificate"] = tls.CaFile;
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            common[key] = value;
        }

        (StorageHttp, StorageGrpc) = (Loopback(), Loopback());
        _storage = Start<storage::Program>(StorageHttp, StorageGrpc, common, new()
        {
            ["ConnectionStrings:redis"] = redis,
            ["Storage:KeyPrefix"] = prefix,
            ["Storage:HotTier"] = "redis",
            ["Storage:Segments:Store"] = "none",
        });
        Registry = Loopback();
        Start<registry::Program>(Registry, null, common, new()
        {
            ["ConnectionStrings:redis"] = redis,
            ["SchemaRegistry:KeyPrefix"] = prefix + ".registry",
            ["SchemaRegistry:StorageAddress"] = StorageGrpc.ToString(),
        });
        (IngestHttp, IngestGrpc) = (Loopback(), Loopback());
        Start<ingest::Program>(IngestHttp, IngestGrpc, common, new()
        {
            ["Ingest:StorageAddress"] = StorageGrpc.ToString(),
            ["Ingest:SchemaRegistryAddress"] = Registry.ToString(),
        });
        (DeliveryHttp, DeliveryGrpc) = (Loopback(), Loopback());
        _common = common;
        DeliveryServices = Start<delivery::Program>(DeliveryHttp, DeliveryGrpc, common, DeliverySettings(prefix)).Services;
    }

    private readonly string _redis;
    private readonly string _prefix;
    private readonly Dictionary<string, string> _common;

    private Dictionary<string, string> DeliverySettings(string prefix) => new()
    {
        ["ConnectionStrings:redis"] = _redis,
        ["Delivery:KeyPrefix"] = prefix,
        ["Delivery:StorageAddress"] = StorageGrpc.ToString(),
        ["Delivery:HeartbeatIntervalMs"] = "100",
        ["Delivery:SessionTimeoutMs"] = "1000",
        ["Delivery:LeaseMs"] = "1000",
    };

    /// <summary>
    /// One more Delivery instance, of its own: on the Redis key prefix <paramref name="keyPrefix"/> (its apps, replay
    /// jobs and groups, which the broker's Delivery does not see), with <paramref name="settings"/> over the broker's
    /// (Auth:StorageAddress, say). The caller disposes it; disposing it and starting another on the same prefix is a restart.
    /// </summary>
    public OtherDelivery StartDelivery(string keyPrefix, IReadOnlyDictionary<string, string>? settings = null)
    {
        var own = DeliverySettings($"{_prefix}.{keyPrefix}");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            own[key] = value;
        }
        var (http, grpc) = (Loopback(), Loopback());
        return new OtherDelivery(http, Create<delivery::Program>(http, grpc, _common, own));
    }

    /// <summary>A Delivery instance started by <see cref="StartDelivery"/>, at <see cref="Http"/>.</summary>
    public sealed class OtherDelivery(Uri http, IAsyncDisposable instance) : IAsyncDisposable
    {
        public Uri Http { get; } = http;

        public ValueTask DisposeAsync() => instance.DisposeAsync();
    }

    public Uri StorageHttp { get; }

    public Uri StorageGrpc { get; }

    public Uri IngestHttp { get; }

    public Uri IngestGrpc { get; }

    public Uri DeliveryHttp { get; }

    public Uri DeliveryGrpc { get; }

    public Uri Registry { get; }

    public IServiceProvider DeliveryServices { get; }

    public static SecureBroker Start(string redis, string prefix, IReadOnlyDictionary<string, string>? settings = null, TestCertificates? tls = null) =>
        new(redis, prefix, settings, tls);

    /// <summary>
    /// A REST client of one service, sending <paramref name="key"/> as a bearer credential (none when null), over
    /// <paramref name="handler"/> when given (a TLS client's trust).
    /// </summary>
    public static HttpClient Http(Uri service, string? key, HttpMessageHandler? handler = null)
    {
        var http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = service;
        http.Timeout = TimeSpan.FromSeconds(30);
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return http;
    }

    /// <summary>A gRPC channel to one service whose calls carry <paramref name="key"/> (none when null), over <paramref name="handler"/> when given.</summary>
    public static GrpcChannel Channel(Uri service, string? key, HttpMessageHandler? handler = null)
    {
        handler ??= new SocketsHttpHandler();
        return GrpcChannel.ForAddress(service, new GrpcChannelOptions
        {
            HttpHandler = key is null ? handler : new Bearer(key) { InnerHandler = handler },
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 64 << 20,
        });
    }

    /// <summary>Adds an ACL as the superuser and waits until every service enforces it.</summary>
    public async Task GrantAsync(string principal, string type, string name, params string[] operations) =>
        await ChangeAclAsync(HttpMethod.Post, new { principal, resource = new { type, name, pattern = "literal" }, operations, permission = "allow" });

    public async Task ChangeAclAsync(HttpMethod method, object binding)
    {
        using var admin = Http(StorageHttp, AdminKey, _tls?.TrustingHandler());
        using var request = new HttpRequestMessage(method, "/v1/acls") { Content = JsonContent.Create(binding) };
        using var response = await admin.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{method} /v1/acls answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await AclsAppliedAsync();
    }

    /// <summary>Waits until Ingest, Delivery and the registry hold the ACL version Storage holds.</summary>
    public async Task AclsAppliedAsync()
    {
        var version = _storage.Services.GetRequiredService<IAclSource>().Current?.Version ?? 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_watchers.Any(w => (w.GetRequiredService<IAclSource>().Current?.Version ?? -1) < version))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
            {
                Assert.Fail($"The services did not get ACL version {version} within 20 s.");
            }
            await Task.Delay(20);
        }
    }

    private readonly List<IServiceProvider> _watchers = [];
    private readonly List<IServiceProvider> _providers = [];

    /// <summary>Every address any of the services listens on, as Kestrel reports them.</summary>
    public IEnumerable<string> ListeningAddresses() =>
        _providers.SelectMany(p => p.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses);

    private Uri Loopback() => new($"{(_tls is null ? "http" : "https")}://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");

    private WebApplicationFactory<T> Start<T>(Uri http, Uri? grpc, Dictionary<string, string> common, Dictionary<string, string> own) where T : class
    {
        var factory = Create<T>(http, grpc, common, own);
        _services.Add(factory);
        _providers.Add(factory.Services);
        if (typeof(T) != typeof(storage::Program))
        {
            _watchers.Add(factory.Services);
        }
        return factory;
    }

    private WebApplicationFactory<T> Create<T>(Uri http, Uri? grpc, Dictionary<string, string> common, Dictionary<string, string> own) where T : class
    {
        var factory = new WebApplicationFactory<T>().WithWebHostBuilder(web =>
        {
            // The endpoints the services' appsettings.json name, replaced: Kestrel serves TLS on one because its URL is https.
            web.UseSetting("Kestrel:Endpoints:Http:Url", http.ToString());
            web.UseSetting("Kestrel:Endpoints:Http:Protocols", "Http1");
            if (grpc is not null)
            {
                web.UseSetting("Kestrel:Endpoints:Grpc:Url", grpc.ToString());
                web.UseSetting("Kestrel:Endpoints:Grpc:Protocols", "Http2");
            }
            foreach (var (key, value) in common.Concat(own))
            {
                web.UseSetting(key, value);
            }
        });
        factory.UseKestrel();
        factory.StartServer();
        return factory;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _services.Count - 1; i >= 0; i--)
        {
            await _services[i].DisposeAsync();
        }
    }

    private sealed class Bearer(string key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
