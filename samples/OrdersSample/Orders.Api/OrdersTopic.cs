using Broker.Client.Admin;

namespace Orders.Api;

/// <summary>
/// Makes the topic <c>orders</c> when the API starts, if it is missing, with Broker.Client's admin client. A topic that
/// exists is left as it is (creating it again would change its settings).
/// </summary>
public sealed class OrdersTopic(BrokerAdminClient admin, ILogger<OrdersTopic> logger) : IHostedService
{
    public const string Name = "orders";
    public const int Partitions = 4;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await admin.DescribeTopicAsync(Name, cancellationToken) is not null)
        {
            Log.TopicExists(logger, Name);
            return;
        }
        await admin.CreateTopicAsync(Name, new TopicSettings { Partitions = Partitions }, cancellationToken);
        Log.TopicCreated(logger, Name, Partitions);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
