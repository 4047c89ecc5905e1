using Broker.Contracts.Storage;
using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.Ingest.Health;

/// <summary>
/// Ready when Storage answers its gRPC API: a describe of a topic name nobody uses, where "not found" is
/// as good an answer as any. Without Storage, Ingest can only refuse produce requests.
/// </summary>
internal sealed class StorageHealthCheck(LogService.LogServiceClient storage) : IHealthCheck
{
    private const string ProbeTopic = "__ingest-health-probe";

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
