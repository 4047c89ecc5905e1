using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Delivery.Dapr;

/// <summary>An app as the stores keep it: the subscriptions in the JSON shape of <c>/dapr/subscribe</c>.</summary>
internal static class DaprAppJson
{
    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private sealed record Stored(string AppId, string Url, AppProtocol Protocol, JsonElement? Subscriptions, string? Principal = null);

    public static string Serialize(DaprApp app) => JsonSerializer.Serialize(
        new Stored(app.AppId, app.Url.ToString(), app.Protocol,
            app.Subscriptions is null ? null : JsonSerializer.SerializeToElement(app.Subscriptions.Select(AppSubscription.ToHttp), s_options),
            app.Principal),
        s_options);

    public static DaprApp Deserialize(string json)
    {
        var stored = JsonSerializer.Deserialize<Stored>(json, s_options)!;
        return new DaprApp(stored.AppId, new Uri(stored.Url), stored.Protocol,
            stored.Subscriptions is { } subscriptions ? AppSubscription.ParseHttp(subscriptions) : null, DaprApp.FromApi)
        {
            Principal = stored.Principal,
        };
    }
}
