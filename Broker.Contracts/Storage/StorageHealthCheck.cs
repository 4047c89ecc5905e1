using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.Contracts.Storage;

/// <summary>
/// Ready when Storage answers its gRPC API: a describe of a topic name nobody uses, where "not found" is
/// as good an answer as any. For the services that cannot work without Storage (Ingest, Delivery).
/// </summary>
public sealed class StorageHealthCheck(LogService.LogServiceClient storage) : IHealthCheck
{
    private const string ProbeTopic = "__health-probe";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await storage.DescribeTopicAsync(new DescribeTopicRequest { Topic = ProbeTopic },
                deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            return HealthCheckResult.Healthy("Storage answers.");
        }
        catch (RpcException ex)
        {
            return HealthCheckResult.Unhealthy($"Storage does not answer: {ex.Status.StatusCode} {ex.Status.Detail}", ex);
        }
    }
}
