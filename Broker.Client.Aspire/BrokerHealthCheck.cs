using Broker.Client.Connection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.Client.Aspire;

/// <summary>
/// Healthy while Storage answers its <c>/health</c> (the broker's log is reachable). One per client registration, over
/// the client's own connection (its token and TLS trust), reused by every probe.
/// </summary>
internal sealed class BrokerHealthCheck(BrokerClientOptions options) : IHealthCheck, IDisposable
{
    private readonly BrokerConnection _connection = new(options);
    private HttpClient? _storage;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (options.Storage is not { } storage)
        {
            return HealthCheckResult.Unhealthy("The broker client has no Storage endpoint to check.");
        }
        _storage ??= _connection.Http(storage);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await _storage.GetAsync("health", timeout.Token);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : new HealthCheckResult(context.Registration.FailureStatus, $"Storage's /health answered {(int)response.StatusCode}.");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Storage ({storage}) is not reachable: {ex.Message}", ex);
        }
    }

    public void Dispose() => _connection.Dispose();
}
