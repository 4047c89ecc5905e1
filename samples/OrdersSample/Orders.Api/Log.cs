namespace Orders.Api;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Topic {Topic} exists; left as it is.")]
    public static partial void TopicExists(ILogger logger, string topic);

    [LoggerMessage(2, LogLevel.Information, "Topic {Topic} created with {Partitions} partitions.")]
    public static partial void TopicCreated(ILogger logger, string topic, int partitions);
}
