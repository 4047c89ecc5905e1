using System.Globalization;
using System.Net.Http.Headers;
using Broker.Contracts.Delivery;
using Broker.ServiceDefaults.Security.Tls;
using Grpc.Net.Client;

namespace Broker.DaprComponent.Component;

/// <summary>
/// One component instance (one YAML, named by the x-component-instance header daprd sends): its metadata from
/// Init, its channels to Ingest and Delivery, and whether daprd paused it (graceful shutdown).
/// </summary>
internal sealed class ComponentInstance : IDisposable
{
    private readonly GrpcChannel _ingest;
    private readonly GrpcChannel _delivery;
    private readonly Lock _gate = new();
    private TaskCompletionSource? _resumed;

    public ComponentInstance(string name, IReadOnlyDictionary<string, string> metadata, ComponentOptions options, IConfiguration configuration, TlsTrust tls)
    {
        Name = name;
        ConsumerId = metadata.TryGetValue("consumerID", out var consumer) && consumer.Length > 0
            ? consumer
            : throw new ArgumentException("The component's metadata has no consumerID (daprd sets it to the app id): it names the consumer group.");
        Window = metadata.TryGetValue("maxInFlight", out var window)
            ? int.TryParse(window, NumberStyles.None, CultureInfo.InvariantCulture, out var w) && w is >= 1 and <= 10_000
                ? w
                : throw new ArgumentException($"maxInFlight must be a whole number from 1 to 10000; got '{window}'.")
            : options.DefaultWindow;
        Start = StartOf(metadata, StartPosition.Earliest);
        IngestAddress = Address(metadata, "ingestAddress", options.IngestAddress, configuration["services:ingest:grpc:0"], "http://localhost:5201");
        DeliveryAddress = Address(metadata, "deliveryAddress", options.DeliveryAddress, configuration["services:delivery:grpc:0"], "http://localhost:5301");
        // The broker's principal for this component: its metadata's token (a secretKeyRef in the YAML), else DaprComponent:Token.
        var token = metadata.TryGetValue("token", out var given) && given.Length > 0 ? given : options.Token;
        // https addresses: the host's Tls settings, or the CAs of its metadata's caCertificate (a PEM file's path, or PEM text from a secretKeyRef).
        if (metadata.TryGetValue("caCertificate", out var ca) && ca.Length > 0)
        {
            tls = tls.WithCaCertificates(TlsTrust.ReadCaCertificates(ca, "caCertificate"), "the component's caCertificate");
        }
        _ingest = GrpcChannel.ForAddress(IngestAddress, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20, HttpHandler = Handler(token, tls), DisposeHttpClient = true });
        _delivery = GrpcChannel.ForAddress(DeliveryAddress, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20, HttpHandler = Handler(token, tls), DisposeHttpClient = true });
        Ingest = new Broker.Contracts.Dapr.Runtime.Dapr.DaprClient(_ingest);
        Delivery = new DeliveryService.DeliveryServiceClient(_delivery);
    }

    public string Name { get; }

    /// <summary>The consumer group every subscription of this instance joins (Dapr's consumerID: the app id unless set).</summary>
    public string ConsumerId { get; }

    /// <summary>Messages handed to daprd and not yet acked, per subscription.</summary>
    public int Window { get; }

    /// <summary>Where a new group starts: <c>initialOffset</c> oldest (default, as Dapr's Redis Streams pub/sub reads a new group from the start) or newest.</summary>
    public StartPosition Start { get; }

    public string IngestAddress { get; }

    public string DeliveryAddress { get; }

    /// <summary>Ingest's Dapr publish API.</summary>
    public Broker.Contracts.Dapr.Runtime.Dapr.DaprClient Ingest { get; }

    public DeliveryService.DeliveryServiceClient Delivery { get; }

    /// <summary>The channel's HTTP handler: the TLS trust, and the token on every call when there is one.</summary>
    private static HttpMessageHandler Handler(string? token, TlsTrust tls)
    {
        var sockets = tls.CreateHandler();
        sockets.EnableMultipleHttp2Connections = true;
        return token is null ? sockets : new BearerToken(token) { InnerHandler = sockets };
    }

    private sealed class BearerToken(string token) : DelegatingHandler
    {
        private readonly AuthenticationHeaderValue _header = new("Bearer", token);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = _header;
            return base.SendAsync(request, cancellationToken);
        }
    }

    public static StartPosition StartOf(IReadOnlyDictionary<string, string> metadata, StartPosition otherwise) =>
        metadata.TryGetValue("initialOffset", out var start)
            ? start.ToLowerInvariant() switch
            {
                "oldest" => StartPosition.Earliest,
                "newest" => StartPosition.Latest,
                _ => throw new ArgumentException($"initialOffset is oldest or newest; got '{start}'."),
            }
            : otherwise;

    /// <summary>daprd pauses the component before it shuts down: no new messages go out until it resumes it.</summary>
    public void Pause()
    {
        lock (_gate)
        {
            _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume()
    {
        lock (_gate)
        {
            _resumed?.TrySetResult();
            _resumed = null;
        }
    }

    /// <summary>Completes at once unless paused; then when resumed.</summary>
    public Task WhenRunningAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _resumed is null ? Task.CompletedTask : _resumed.Task.WaitAsync(cancellationToken);
        }
    }

    private static string Address(IReadOnlyDictionary<string, string> metadata, string key, params string?[] fallbacks)
    {
        var address = metadata.TryGetValue(key, out var given) && given.Length > 0 ? given : fallbacks.First(f => !string.IsNullOrEmpty(f))!;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? address
            : throw new ArgumentException($"{key} must be an absolute http(s) address; got '{address}'.");
    }

    public void Dispose()
    {
        Resume();
        _ingest.Dispose();
        _delivery.Dispose();
    }
}
