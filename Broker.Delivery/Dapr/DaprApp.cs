namespace Broker.Delivery.Dapr;

/// <summary>How Delivery talks to an app: HTTP (POST of CloudEvents) or gRPC (Dapr's AppCallback service).</summary>
public enum AppProtocol
{
    Http,
    Grpc,
}

/// <summary>
/// A Dapr app Delivery delivers to, as a sidecar would: where it listens, over what, and its subscriptions when
/// they are declared (null: asked from the app, as daprd does at start-up). The app id is its consumer group.
/// </summary>
public sealed record DaprApp(string AppId, Uri Url, AppProtocol Protocol, IReadOnlyList<AppSubscription>? Subscriptions, string Source)
{
    /// <summary>
    /// Who declared the app through the API: its subscriptions are delivered with that principal's rights (topic read,
    /// and create for topics made on demand). Null for apps from configuration and on an open broker: the operator's.
    /// </summary>
    public string? Principal { get; init; }

    /// <summary>Apps from configuration (Delivery:Dapr:Apps) cannot be changed through the API.</summary>
    public const string FromConfiguration = "configuration";

    public const string FromApi = "api";

    /// <summary>What identifies the app's behaviour: a change means its channel and deliverers start again.</summary>
    public string Signature => $"{Url}|{Protocol}|{Principal}|{(Subscriptions is null ? "discover" : string.Join(";", Subscriptions.Select(s => s.Signature)))}";
}
