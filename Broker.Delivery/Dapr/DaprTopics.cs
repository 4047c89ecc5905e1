using Broker.Delivery.StorageAccess;
using Broker.ServiceDefaults.Security;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Dapr;

/// <summary>Topics on demand for Dapr subscriptions: Dapr apps subscribe to topics nobody created.</summary>
public sealed class DaprTopics(LogClient log, IOptions<DaprDeliveryOptions> options)
{
    /// <summary>
    /// Creates the topic with Delivery:Dapr's defaults unless it exists; NOT_FOUND naming it when topics on demand are off,
    /// PERMISSION_DENIED when <paramref name="principal"/> (for whom it is made) may not create it.
    /// </summary>
    public async Task EnsureAsync(string topic, string? principal, CancellationToken cancellationToken)
    {
        if (await log.DescribeAsync(topic, cancellationToken) is not null)
        {
            return;
        }
        if (!options.Value.CreateTopics)
        {
            throw new RpcException(new Status(StatusCode.NotFound,
                $"Topic '{topic}' does not exist, and Delivery:Dapr:CreateTopics is off: create it first (PUT /v1/topics/{topic} on Storage)."));
        }
        await log.EnsureTopicAsync(topic, options.Value.TopicPartitions, cancellationToken, options.Value.TopicRetentionMs, OnBehalfOf.Headers(principal));
    }
}
