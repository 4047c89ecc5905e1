using Broker.Delivery.StorageAccess;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Dapr;

/// <summary>Topics on demand for Dapr subscriptions: Dapr apps subscribe to topics nobody created.</summary>
public sealed class DaprTopics(LogClient log, IOptions<DaprDeliveryOptions> options)
{
    /// <summary>Creates the topic with Delivery:Dapr's defaults unless it exists; NOT_FOUND naming it when topics on demand are off.</summary>
    public async Task EnsureAsync(string topic, CancellationToken cancellationToken)
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
        await log.EnsureTopicAsync(topic, options.Value.TopicPartitions, cancellationToken, options.Value.TopicRetentionMs);
    }
}
