using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Broker.Client.Connection;

namespace Broker.Client.Producing;

/// <summary>
/// Each topic's partition count, from Storage's <c>GET /v1/topics/{topic}</c>, refreshed after five minutes (Kafka's
/// <c>metadata.max.age.ms</c>) so that added partitions are seen, the last good count in use until a refresh succeeds;
/// and the sticky partition keyless records go to. A failed fetch is not kept: the next record asks again.
/// </summary>
internal sealed class TopicMetadata(BrokerConnection connection)
{
    private static readonly TimeSpan s_maxAge = TimeSpan.FromMinutes(5);
    private readonly HttpClient _storage = connection.Http(BrokerClientOptions.Required(connection.Options.Storage, "Storage"));
    private readonly ConcurrentDictionary<string, Entry> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _sticky = new(StringComparer.Ordinal);

    /// <summary>The partition count when one is known (a stale one is refreshed in the background and still answered).</summary>
    public bool TryGetPartitions(string topic, out int partitions)
    {
        if (_topics.TryGetValue(topic, out var entry) && entry.Known is { } known)
        {
            if (DateTime.UtcNow - entry.Fetched > s_maxAge)
            {
                entry.Refresh(this, topic);
            }
            partitions = known;
            return true;
        }
        partitions = 0;
        return false;
    }

    /// <summary>The partition count, fetched when none is known.</summary>
    public async ValueTask<int> PartitionsAsync(string topic, CancellationToken cancellationToken)
    {
        if (TryGetPartitions(topic, out var known))
        {
            return known;
        }
        var entry = _topics.GetOrAdd(topic, _ => new Entry());
        return await entry.Refresh(this, topic).WaitAsync(cancellationToken);
    }

    private async Task<int> FetchAsync(string topic)
    {
        HttpResponseMessage response;
        try
        {
            response = await _storage.GetAsync($"/v1/topics/{Uri.EscapeDataString(topic)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new ProduceException(ProduceError.Unavailable, $"Storage could not be asked for topic {topic}'s partitions: {ex.Message}", ex);
        }
        using (response)
        {
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
                var error = (int)response.StatusCode >= 500 ? ProduceError.Unavailable : ProduceError.InvalidArgument;
                throw new ProduceException(error, $"Storage answered {(int)response.StatusCode} for topic {topic}: {await Problem.DetailAsync(response)}");
            }
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
            return json.RootElement.GetProperty("partitions").GetInt32();
        }
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
            var count = partitions ?? (TryGetPartitions(topic, out var known) ? known : 1);
            _sticky[topic] = count <= 1 ? 0 : (sticky + 1 + Random.Shared.Next(count - 1)) % count;
        }
    }

    /// <summary>One topic: the last good count and when it was fetched, and the fetch under way (one at a time).</summary>
    private sealed class Entry
    {
        private readonly Lock _sync = new();
        private Task<int>? _fetching;

        public int? Known { get; private set; }

        public DateTime Fetched { get; private set; }

        public Task<int> Refresh(TopicMetadata owner, string topic)
        {
            lock (_sync)
            {
                if (_fetching is { IsCompleted: false } running)
                {
                    return running;
                }
                Fetched = DateTime.UtcNow; // a refresh is not asked for again while this one runs
                var fetching = FetchAndKeepAsync(owner, topic);
                _fetching = fetching;
                return fetching;
            }
        }

        private async Task<int> FetchAndKeepAsync(TopicMetadata owner, string topic)
        {
            var partitions = await owner.FetchAsync(topic);
            Known = partitions;
            Fetched = DateTime.UtcNow;
            return partitions;
        }
    }
}
