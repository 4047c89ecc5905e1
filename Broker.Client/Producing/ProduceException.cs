namespace Broker.Client.Producing;

/// <summary>Why a record was not produced.</summary>
public enum ProduceError
{
    /// <summary>The broker refused the record as it is (a bad name, a record too large, a schema it does not match).</summary>
    InvalidArgument,

    /// <summary>The topic does not exist.</summary>
    TopicNotFound,

    /// <summary>The client's principal may not write to the topic.</summary>
    Forbidden,

    /// <summary>Not confirmed within <see cref="ProducerOptions.DeliveryTimeout"/>: it may or may not have been written.</summary>
    Timeout,

    /// <summary>The producer's buffer (<see cref="ProducerOptions.BufferBytes"/>) is full; produce again later.</summary>
    QueueFull,

    /// <summary>Storage could not be reached to learn the topic's partitions; produce again later.</summary>
    Unavailable,

    /// <summary>The producer was disposed before the record was confirmed.</summary>
    Disposed,
}

/// <summary>A record was not produced: <see cref="Error"/> says why, the message says what the broker said.</summary>
public sealed class ProduceException(ProduceError error, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Why the record was not produced.</summary>
    public ProduceError Error { get; } = error;
}
