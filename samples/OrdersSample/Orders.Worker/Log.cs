namespace Orders.Worker;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Order {OrderId} from {Customer}, {Total}: partition {Partition}, offset {Offset}, attempt {Attempt}.")]
    public static partial void OrderReceived(ILogger logger, string orderId, string customer, decimal total, int partition, long offset, int attempt);

    [LoggerMessage(3, LogLevel.Information, "Topic {Topic} does not exist yet; subscribing again shortly.")]
    public static partial void NoTopic(ILogger logger, string topic);
}
