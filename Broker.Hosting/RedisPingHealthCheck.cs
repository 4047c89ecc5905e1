using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Aspire.Hosting;

/// <summary>Healthy when the Redis at the resource's endpoint answers PING with PONG.</summary>
internal sealed class RedisPingHealthCheck(RedisServerResource redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var endpoint = redis.PrimaryEndpoint;
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("Its port is not allocated yet.");
        }
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            var answer = Encoding.ASCII.GetString(buffer, 0, read);
            return answer.StartsWith("+PONG", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"PING was answered {answer.TrimEnd()}");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return HealthCheckResult.Unhealthy($"{endpoint.Host}:{endpoint.Port} does not answer: {ex.Message}");
        }
    }
}
