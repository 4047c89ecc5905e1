namespace Broker.Client.Producing;

/// <summary>A record to produce.</summary>
/// <typeparam name="TKey">The key's type; a key picks the partition (Kafka's murmur2), and records of one key stay in order.</typeparam>
/// <typeparam name="TValue">The value's type.</typeparam>
public sealed class Message<TKey, TValue>
{
    /// <summary>The key; default (null) for none: the record then goes to any partition.</summary>
    public TKey? Key { get; init; }

    /// <summary>The value.</summary>
    public required TValue Value { get; init; }

    /// <summary>Headers, carried to consumers; the producer adds <c>traceparent</c>.</summary>
    public MessageHeaders? Headers { get; init; }

    /// <summary>The record's time; unset: when Ingest receives it.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The partition, overriding the key's; unset: the key's, or any for no key.</summary>
    public int? Partition { get; init; }
}

/// <summary>A record's headers: names with byte values, in order; a name may repeat.</summary>
public sealed class MessageHeaders : List<KeyValuePair<string, byte[]>>
{
    /// <summary>Adds a header with a UTF-8 value.</summary>
    public void Add(string name, string value) => Add(new KeyValuePair<string, byte[]>(name, System.Text.Encoding.UTF8.GetBytes(value)));

    /// <summary>Adds a header.</summary>
    public void Add(string name, byte[] value) => Add(new KeyValuePair<string, byte[]>(name, value));

    /// <summary>The last value of <paramref name="name"/> as UTF-8 text; null when absent.</summary>
    public string? GetString(string name)
    {
        for (var i = Count - 1; i >= 0; i--)
        {
            if (this[i].Key == name)
            {
                return System.Text.Encoding.UTF8.GetString(this[i].Value);
            }
        }
        return null;
    }
}
