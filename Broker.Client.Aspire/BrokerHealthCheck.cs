using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.Client.Aspire;

/// <summary>Healthy while Storage answers its <c>/health</c> (the broker's log is reachable).</summary>
internal sealed class BrokerHealthCheck(BrokerClientOptions options) : IHealthCheck, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (options.Storage is not { } storage)
        {
            return HealthCheckResult.Unhealthy("The broker client has no Storage endpoint to check.");
        }
        try
        {
            using var response = await _http.GetAsync(new Uri(storage, "/health"), cancellationToken);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : new HealthCheckResult(context.Registration.FailureStatus, $"Storage's /health answered {(int)response.StatusCode}.");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Storage ({storage}) is not reachable: {ex.Message}", ex);
        }
    }

    public void Dispose() => _http.Dispose();
}
