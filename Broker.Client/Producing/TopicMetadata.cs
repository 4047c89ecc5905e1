using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Broker.Client.Connection;

namespace Broker.Client.Producing;

/// <summary>
/// Each topic's partition count, from Storage's <c>GET /v1/topics/{topic}</c>, kept for five minutes (Kafka's
/// <c>metadata.max.age.ms</c>) so that added partitions are seen; and the sticky partition keyless records go to.
/// </summary>
internal sealed class TopicMetadata(BrokerConnection connection)
{
    private static readonly TimeSpan s_maxAge = TimeSpan.FromMinutes(5);
    private readonly HttpClient _storage = connection.Http(BrokerClientOptions.Required(connection.Options.Storage, "Storage"));
    private readonly ConcurrentDictionary<string, (Task<int> Partitions, DateTime Fetched)> _partitions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _sticky = new(StringComparer.Ordinal);

    /// <summary>The partition count when it is known and fresh; a stale one is refreshed in the background and still answered.</summary>
    public bool TryGetPartitions(string topic, out int partitions)
    {
        if (_partitions.TryGetValue(topic, out var entry) && entry.Partitions.IsCompletedSuccessfully)
        {
            if (DateTime.UtcNow - entry.Fetched > s_maxAge)
            {
                _partitions.TryUpdate(topic, (FetchAsync(topic), DateTime.UtcNow), entry);
            }
            partitions = entry.Partitions.Result;
            return true;
        }
        partitions = 0;
        return false;
    }

    public ValueTask<int> PartitionsAsync(string topic, CancellationToken cancellationToken)
    {
        var entry = _partitions.GetOrAdd(topic, t => (FetchAsync(t), DateTime.UtcNow));
        if (entry.Partitions.IsCompletedSuccessfully)
        {
            if (DateTime.UtcNow - entry.Fetched > s_maxAge)
            {
                _partitions.TryUpdate(topic, (FetchAsync(topic), DateTime.UtcNow), entry);
            }
            return ValueTask.FromResult(entry.Partitions.Result);
        }
        return new ValueTask<int>(AwaitAsync(topic, entry.Partitions, cancellationToken));
    }

    private async Task<int> AwaitAsync(string topic, Task<int> fetching, CancellationToken cancellationToken)
    {
        try
        {
            return await fetching.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not kept: the next record asks again (the topic may be created meanwhile).
            _partitions.TryRemove(new KeyValuePair<string, (Task<int>, DateTime)>(topic, _partitions.GetValueOrDefault(topic)));
            throw;
        }
    }

    private async Task<int> FetchAsync(string topic)
    {
        using var response = await _storage.GetAsync($"/v1/topics/{Uri.EscapeDataString(topic)}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ProduceException(ProduceError.TopicNotFound, $"Topic {topic} does not exist.");
        }
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new ProduceException(ProduceError.Forbidden, $"Storage refused to describe topic {topic} ({(int)response.StatusCode}): {await Problem.DetailAsync(response)}");
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new ProduceException(ProduceError.InvalidArgument, $"Storage answered {(int)response.StatusCode} for topic {topic}: {await Problem.DetailAsync(response)}");
        }
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
        return json.RootElement.GetProperty("partitions").GetInt32();
    }

    /// <summary>Under the producer's lock: the partition keyless records of <paramref name="topic"/> go to now.</summary>
    public int StickyPartition(string topic, int partitions)
    {
        if (!_sticky.TryGetValue(topic, out var sticky) || sticky >= partitions)
        {
            sticky = Random.Shared.Next(partitions);
            _sticky[topic] = sticky;
        }
        return sticky;
    }

    /// <summary>Under the producer's lock: a batch of <paramref name="partition"/> was closed; keyless records move on.</summary>
    public void MoveSticky(string topic, int partition, int? partitions)
    {
        if (_sticky.TryGetValue(topic, out var sticky) && sticky == partition)
        {
            var count = partitions ?? (_partitions.TryGetValue(topic, out var entry) && entry.Partitions.IsCompletedSuccessfully ? entry.Partitions.Result : 1);
            _sticky[topic] = count <= 1 ? 0 : (sticky + 1 + Random.Shared.Next(count - 1)) % count;
        }
    }
}
