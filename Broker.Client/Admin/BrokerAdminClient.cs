using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Serialization.Metadata;
using Broker.Client.Connection;

namespace Broker.Client.Admin;

/// <summary>
/// The broker's administration over its REST APIs: topics (Storage), groups and replay jobs (Delivery), schemas (the
/// registry). A refusal is a <see cref="BrokerAdminException"/> with the HTTP status and the service's own words.
/// </summary>
public sealed class BrokerAdminClient : IDisposable
{
    private readonly BrokerConnection _connection;
    private readonly BrokerClientOptions _options;
    private HttpClient? _storage;
    private HttpClient? _delivery;
    private HttpClient? _registry;

    /// <summary>An admin client of the broker <paramref name="client"/> names (each service's endpoint is needed only for its calls).</summary>
    public BrokerAdminClient(BrokerClientOptions client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _options = client;
        _connection = new BrokerConnection(client);
    }

    private HttpClient Storage => _storage ??= _connection.Http(BrokerClientOptions.Required(_options.Storage, "Storage"));

    private HttpClient Delivery => _delivery ??= _connection.Http(BrokerClientOptions.Required(_options.Delivery, "Delivery"));

    private HttpClient Registry => _registry ??= _connection.Http(BrokerClientOptions.Required(_options.SchemaRegistry, "SchemaRegistry"));

    /// <summary>Creates <paramref name="topic"/> with <paramref name="settings"/> (Partitions is required), or changes it to them if it exists.</summary>
    public async Task<TopicDescription> CreateTopicAsync(string topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentNullException.ThrowIfNull(settings);
        using var response = await Storage.PutAsJsonAsync(TopicPath(topic), settings, AdminJson.Default.TopicSettings, cancellationToken);
        return await ReadAsync(response, AdminJson.Default.TopicDescription, cancellationToken);
    }

    /// <summary>Changes what <paramref name="settings"/> sets of an existing topic (partitions may only grow).</summary>
    public Task<TopicDescription> AlterTopicAsync(string topic, TopicSettings settings, CancellationToken cancellationToken = default) =>
        CreateTopicAsync(topic, settings, cancellationToken);

    /// <summary>The topic's settings and each partition's offsets; null when it does not exist.</summary>
    public async Task<TopicDescription?> DescribeTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        using var response = await Storage.GetAsync(TopicPath(topic), cancellationToken);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync(response, AdminJson.Default.TopicDescription, cancellationToken);
    }

    /// <summary>The topics the client's principal may describe.</summary>
    public async Task<IReadOnlyList<TopicDescription>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        using var response = await Storage.GetAsync("/v1/topics", cancellationToken);
        return (await ReadAsync(response, AdminJson.Default.TopicList, cancellationToken)).Topics;
    }

    /// <summary>Deletes a topic and its records; false when there was none.</summary>
    public async Task<bool> DeleteTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        using var response = await Storage.DeleteAsync(TopicPath(topic), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        await EnsureAsync(response);
        return true;
    }

    /// <summary>A group's members and, per topic and partition, its committed offset and lag.</summary>
    public async Task<GroupDescription> DescribeGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        using var response = await Delivery.GetAsync($"/v1/groups/{Uri.EscapeDataString(group)}", cancellationToken);
        return await ReadAsync(response, AdminJson.Default.GroupDescription, cancellationToken);
    }

    /// <summary>Starts a replay job; its status follows with <see cref="WatchReplayAsync"/>.</summary>
    public async Task<ReplayStatus> StartReplayAsync(ReplayRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var response = await Delivery.PostAsJsonAsync("/v1/replays", request, AdminJson.Default.ReplayRequest, cancellationToken);
        return await ReadAsync(response, AdminJson.Default.ReplayStatus, cancellationToken);
    }

    /// <summary>A replay job's status now.</summary>
    public async Task<ReplayStatus> GetReplayAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        using var response = await Delivery.GetAsync(ReplayPath(id), cancellationToken);
        return await ReadAsync(response, AdminJson.Default.ReplayStatus, cancellationToken);
    }

    /// <summary>
    /// A replay job's status every <paramref name="interval"/> (default 1 s) while it changes, ending with the status it
    /// finished with (completed, failed or cancelled).
    /// </summary>
    public async IAsyncEnumerable<ReplayStatus> WatchReplayAsync(string id, TimeSpan? interval = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var every = interval ?? TimeSpan.FromSeconds(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(every, TimeSpan.Zero, nameof(interval));
        ReplayStatus? last = null;
        while (true)
        {
            var status = await GetReplayAsync(id, cancellationToken);
            if (status != last)
            {
                yield return status;
                last = status;
            }
            if (status.Finished)
            {
                yield break;
            }
            await Task.Delay(every, cancellationToken);
        }
    }

    /// <summary>Asks a replay job to stop; it ends cancelled, with what it had replayed kept.</summary>
    public async Task CancelReplayAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        using var response = await Delivery.DeleteAsync(ReplayPath(id), cancellationToken);
        await EnsureAsync(response);
    }

    /// <summary>Registers an Avro schema under <paramref name="subject"/> (or finds it there) and answers its id.</summary>
    public async Task<int> RegisterSchemaAsync(string subject, string schema, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        using var response = await Registry.PostAsJsonAsync($"/subjects/{Uri.EscapeDataString(subject)}/versions", new SchemaBody(schema), AdminJson.Default.SchemaBody, cancellationToken);
        return (await ReadAsync(response, AdminJson.Default.SchemaId, cancellationToken)).Id;
    }

    /// <summary>Whether <paramref name="schema"/> is compatible with <paramref name="subject"/>'s versions under its compatibility level, and why not.</summary>
    public async Task<CompatibilityResult> CheckSchemaAsync(string subject, string schema, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        using var response = await Registry.PostAsJsonAsync($"/compatibility/subjects/{Uri.EscapeDataString(subject)}/versions?verbose=true", new SchemaBody(schema),
            AdminJson.Default.SchemaBody, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return new CompatibilityResult(true, []); // no versions yet: anything is compatible
        }
        var body = await ReadAsync(response, AdminJson.Default.CompatibilityBody, cancellationToken);
        return new CompatibilityResult(body.IsCompatible, body.Messages ?? []);
    }

    /// <summary>Closes the client's connections.</summary>
    public void Dispose() => _connection.Dispose();

    private static string TopicPath(string topic) => $"/v1/topics/{Uri.EscapeDataString(topic)}";

    private static string ReplayPath(string id) => $"/v1/replays/{Uri.EscapeDataString(id)}";

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        await EnsureAsync(response);
        return await response.Content.ReadFromJsonAsync(type, cancellationToken)
            ?? throw new BrokerAdminException(response.StatusCode, $"{response.RequestMessage?.RequestUri?.AbsolutePath} answered an empty body.");
    }

    private static async Task EnsureAsync(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new BrokerAdminException(response.StatusCode,
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} answered {(int)response.StatusCode}: {await Problem.DetailAsync(response)}");
        }
    }
}

/// <summary>A service refused an admin call: <see cref="StatusCode"/> is its HTTP status, the message its own words.</summary>
public sealed class BrokerAdminException(HttpStatusCode statusCode, string message) : Exception(message)
{
    /// <summary>The HTTP status the service answered.</summary>
    public HttpStatusCode StatusCode { get; } = statusCode;
}
