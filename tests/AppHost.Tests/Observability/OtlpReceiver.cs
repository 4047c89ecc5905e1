using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using AppHost.Tests.Observability.Otlp;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AppHost.Tests.Observability;

/// <summary>
/// A collector endpoint for the test: OTLP over HTTP (protobuf) on a free loopback port, keeping every span it is
/// sent with its resource's service.name. Metrics and logs are taken and dropped.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record ReceivedSpan(string Service, string Name, int Kind, string TraceId, string SpanId, string ParentSpanId);

    private OtlpReceiver(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var endpoint = new Uri($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, endpoint.Port));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, endpoint);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            foreach (var resource in export.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                {
                    receiver.Spans.Enqueue(new ReceivedSpan(service, span.Name, span.Kind, Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span), Convert.ToHexStringLower(span.ParentSpanId.Span)));
                }
            }
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/metrics", () => Results.Bytes([], "application/x-protobuf"));
        app.MapPost("/v1/logs", () => Results.Bytes([], "application/x-protobuf"));
        await app.StartAsync();
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
