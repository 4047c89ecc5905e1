using System.Globalization;
using Broker.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// One service hosted on loopback Kestrel ports, for a test that needs it alone or with settings of its own: a REST
/// endpoint (HTTP/1.1) and a gRPC endpoint (HTTP/2), both https with the test CA's server certificate when
/// a <see cref="TestCertificates"/> is given (Kestrel's own settings), h2c and plain HTTP otherwise.
/// </summary>
public sealed class TlsService : IAsyncDisposable
{
    private readonly IAsyncDisposable _factory;

    private TlsService(IAsyncDisposable factory, Uri rest, Uri grpc, IServiceProvider services)
    {
        _factory = factory;
        Rest = rest;
        Grpc = grpc;
        Services = services;
    }

    public Uri Rest { get; }

    public Uri Grpc { get; }

    public IServiceProvider Services { get; }

    public static TlsService Start<T>(TestCertificates? tls, IReadOnlyDictionary<string, string> settings) where T : class
    {
        var scheme = tls is null ? "http" : "https";
        var rest = new Uri($"{scheme}://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        var grpc = new Uri($"{scheme}://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        var all = new Dictionary<string, string>
        {
            // The endpoints the services' appsettings.json name, replaced (an https URL is what makes one TLS).
            ["Kestrel:Endpoints:Http:Url"] = rest.ToString(),
            ["Kestrel:Endpoints:Http:Protocols"] = "Http1",
            ["Kestrel:Endpoints:Grpc:Url"] = grpc.ToString(),
            ["Kestrel:Endpoints:Grpc:Protocols"] = "Http2",
        };
        foreach (var (key, value) in tls?.KestrelCertificate() ?? [])
        {
            all[key] = value;
        }
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }
        var factory = new WebApplicationFactory<T>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in all)
            {
                web.UseSetting(key, value);
            }
        });
        factory.UseKestrel();
        try
        {
            factory.StartServer();
        }
        catch
        {
            factory.Dispose();
            throw;
        }
        return new TlsService(factory, rest, grpc, factory.Services);
    }

    public ValueTask DisposeAsync() => _factory.DisposeAsync();
}
