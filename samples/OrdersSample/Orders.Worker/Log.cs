namespace Orders.Worker;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Order {OrderId} from {Customer}, {Total}: partition {Partition}, offset {Offset}, attempt {Attempt}.")]
    public static partial void OrderReceived(ILogger logger, string orderId, string customer, decimal total, int partition, long offset, int attempt);

    [LoggerMessage(2, LogLevel.Warning, "The record at partition {Partition}, offset {Offset} is not an order; nacked.")]
    public static partial void NotAnOrder(ILogger logger, int partition, long offset);

    [LoggerMessage(3, LogLevel.Information, "Topic {Topic} does not exist yet; polling again shortly.")]
    public static partial void NoTopic(ILogger logger, string topic);

    [LoggerMessage(4, LogLevel.Warning, "Polling Delivery failed ({Error}); trying again shortly.")]
    public static partial void PollFailed(ILogger logger, string error);
}
