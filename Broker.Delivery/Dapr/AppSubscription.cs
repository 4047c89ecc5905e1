using System.Text.Json;
using Broker.Contracts.Dapr.Runtime;

namespace Broker.Delivery.Dapr;

/// <summary>Where a rule sends an event when it matches.</summary>
public sealed record AppRoute(string Match, string Path);

/// <summary>A Dapr subscription's bulk delivery: up to MaxMessagesCount events per call, waiting at most MaxAwaitDurationMs to fill it.</summary>
public sealed record AppBulk(bool Enabled, int MaxMessagesCount = 100, int MaxAwaitDurationMs = 1000);

/// <summary>
/// One Dapr subscription of an app, as its <c>GET /dapr/subscribe</c> (or ListTopicSubscriptions) gives it, or
/// as declared through the REST API: pub/sub and topic, routing (rules over the CloudEvent, then a default
/// path), dead-letter topic, metadata and bulk delivery.
/// </summary>
public sealed record AppSubscription(
    string PubsubName, string Topic, IReadOnlyList<AppRoute> Rules, string? DefaultPath, string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata, AppBulk Bulk)
{
    /// <summary>What identifies the subscription's behaviour: a change means its delivery starts again.</summary>
    public string Signature => JsonSerializer.Serialize(ToHttp(this with
    {
        Metadata = new SortedDictionary<string, string>(Metadata.ToDictionary(), StringComparer.Ordinal),
    }));

    /// <summary>
    /// The subscriptions in a <c>/dapr/subscribe</c> answer: a JSON array of {pubsubname, topic, route | routes
    /// {rules:[{match, path}], default}, deadLetterTopic, metadata, bulkSubscribe{enabled, maxMessagesCount,
    /// maxAwaitDurationMs}}. Keys match case-insensitively, as in daprd (Dapr.AspNetCore writes pubsubName).
    /// </summary>
    public static IReadOnlyList<AppSubscription> ParseHttp(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("A subscription list is a JSON array.");
        }
        var result = new List<AppSubscription>();
        foreach (var item in answer.EnumerateArray())
        {
            var pubsub = String(item, "pubsubname") ?? throw new FormatException("A subscription has no pubsubname.");
            var topic = String(item, "topic") ?? throw new FormatException("A subscription has no topic.");
            var rules = new List<AppRoute>();
            var defaultPath = String(item, "route");
            if (Get(item, "routes") is { ValueKind: JsonValueKind.Object } routes)
            {
                defaultPath = String(routes, "default") ?? defaultPath;
                if (Get(routes, "rules") is { ValueKind: JsonValueKind.Array } list)
                {
                    rules.AddRange(list.EnumerateArray().Select(r => new AppRoute(String(r, "match") ?? "", String(r, "path") ?? "")));
                }
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Get(item, "metadata") is { ValueKind: JsonValueKind.Object } given)
            {
                foreach (var property in given.EnumerateObject())
                {
                    metadata[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
                }
            }
            var bulk = new AppBulk(false);
            if (Get(item, "bulkSubscribe") is { ValueKind: JsonValueKind.Object } b)
            {
                bulk = new AppBulk(Get(b, "enabled") is { ValueKind: JsonValueKind.True },
                    Get(b, "maxMessagesCount") is { ValueKind: JsonValueKind.Number } count && count.GetInt32() > 0 ? count.GetInt32() : 100,
                    Get(b, "maxAwaitDurationMs") is { ValueKind: JsonValueKind.Number } wait && wait.GetInt32() > 0 ? wait.GetInt32() : 1000);
            }
            result.Add(new AppSubscription(pubsub, topic, rules, defaultPath, String(item, "deadLetterTopic"), metadata, bulk));
        }
        return result;
    }

    /// <summary>This subscription in the JSON shape of <c>/dapr/subscribe</c> (what the API shows and the stores keep).</summary>
    public static HttpShape ToHttp(AppSubscription s) => new(
        s.PubsubName, s.Topic, new HttpRoutes([.. s.Rules.Select(r => new HttpRule(r.Match, r.Path))], s.DefaultPath), s.DeadLetterTopic,
        s.Metadata, new HttpBulk(s.Bulk.Enabled, s.Bulk.MaxMessagesCount, s.Bulk.MaxAwaitDurationMs));

    public sealed record HttpShape(string Pubsubname, string Topic, HttpRoutes Routes, string? DeadLetterTopic, IReadOnlyDictionary<string, string> Metadata,
        HttpBulk BulkSubscribe);

    public sealed record HttpRoutes(IReadOnlyList<HttpRule> Rules, string? Default);

    public sealed record HttpRule(string Match, string Path);

    public sealed record HttpBulk(bool Enabled, int MaxMessagesCount, int MaxAwaitDurationMs);

    /// <summary>The subscriptions a gRPC app's ListTopicSubscriptions answers.</summary>
    public static IReadOnlyList<AppSubscription> FromGrpc(ListTopicSubscriptionsResponse answer) =>
        [.. answer.Subscriptions.Select(s => new AppSubscription(
            s.PubsubName, s.Topic,
            [.. (s.Routes?.Rules ?? []).Select(r => new AppRoute(r.Match, r.Path))],
            string.IsNullOrEmpty(s.Routes?.Default) ? null : s.Routes.Default,
            string.IsNullOrEmpty(s.DeadLetterTopic) ? null : s.DeadLetterTopic,
            new Dictionary<string, string>(s.Metadata, StringComparer.Ordinal),
            s.BulkSubscribe is { } b ? new AppBulk(b.Enabled, b.MaxMessagesCount > 0 ? b.MaxMessagesCount : 100, b.MaxAwaitDurationMs > 0 ? b.MaxAwaitDurationMs : 1000) : new AppBulk(false)))];

    private static JsonElement? Get(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }
        return null;
    }

    private static string? String(JsonElement element, string name) =>
        Get(element, name) is { ValueKind: JsonValueKind.String } value && value.GetString() is { Length: > 0 } text ? text : null;
}
