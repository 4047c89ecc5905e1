using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Orders.DaprApp;

/// <summary>
/// Declares the app to Delivery once it listens: <c>PUT /v1/apps/{appId}</c> with <c>{"url":…,"protocol":"http"}</c>. Delivery
/// then asks <c>GET {url}/dapr/subscribe</c> (and again every 30 s) and delivers each subscribed topic to its route, as the
/// consumer group named by the app id (a new group starts at the oldest record). The declaration is kept by the broker
/// (in Redis) until it is deleted (<c>DELETE /v1/apps/{appId}</c>) or declared again, as here at every start.
/// Settings: <c>Broker:AppId</c> (the app id: appsettings.json), <c>Broker:AppUrl</c> (where Delivery reaches the app;
/// unset: the address Kestrel listens on). Delivery calls only hosts its Delivery:Outbound:AllowedHosts allows
/// (loopback in Development).
/// </summary>
public sealed class DeliveryRegistration(IHttpClientFactory clients, IServer server, IHostApplicationLifetime lifetime, IConfiguration configuration,
    ILogger<DeliveryRegistration> logger) : BackgroundService
{
    public const string DeliveryClient = "delivery";

    private static readonly TimeSpan s_retryDelay = TimeSpan.FromSeconds(2);

    private readonly string _appId = configuration["Broker:AppId"] is { Length: > 0 } id ? id : "orders-dapr";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Kestrel's addresses are known once the app has started.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }
        var url = configuration["Broker:AppUrl"] is { Length: > 0 } given ? given : ListeningUrl();
        var delivery = clients.CreateClient(DeliveryClient);
        while (true)
        {
            try
            {
                using var declared = await delivery.PutAsJsonAsync($"/v1/apps/{_appId}", new { url, protocol = "http" }, stoppingToken);
                if (declared.IsSuccessStatusCode)
                {
                    Log.Declared(logger, _appId, url);
                    return;
                }
                var problem = await declared.Content.ReadAsStringAsync(stoppingToken);
                if ((int)declared.StatusCode is >= 400 and < 500)
                {
                    // The declaration itself is refused (e.g. a URL Delivery may not call): trying again would not help.
                    Log.Refused(logger, _appId, url, (int)declared.StatusCode, problem);
                    return;
                }
                Log.NotDeclared(logger, _appId, $"HTTP {(int)declared.StatusCode}: {problem}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                Log.NotDeclared(logger, _appId, ex.Message);
            }
            await Task.Delay(s_retryDelay, stoppingToken);
        }
    }

    /// <summary>Kestrel's first http:// address, with a wildcard host (http://+:8080, http://[::]:8080) as localhost.</summary>
    private string ListeningUrl()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel listens on no address; set Broker:AppUrl to where Delivery reaches this app.");
        var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = "localhost";
        }
        return uri.Uri.GetLeftPart(UriPartial.Authority);
    }
}
