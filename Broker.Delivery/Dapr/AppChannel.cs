using System.Text.Json;
using Broker.Delivery.Consuming;

namespace Broker.Delivery.Dapr;

/// <summary>What an app made of an event: Dapr's three answers.</summary>
public enum AppStatus
{
    Success,
    /// <summary>Deliver it again, under the broker's retry policy (then the dead-letter topic).</summary>
    Retry,
    /// <summary>Never again: it goes to the dead-letter topic.</summary>
    Drop,
}

/// <summary>An app's answer to one event, with why (what a nack or dead-letter record keeps).</summary>
public readonly record struct AppAnswer(AppStatus Status, string Reason)
{
    public static AppAnswer Success { get; } = new(AppStatus.Success, "");
}

/// <summary>One record on its way to an app: its CloudEvent bytes, parsed once when something needs to look inside.</summary>
internal sealed class AppEvent(Delivered delivery, ReadOnlyMemory<byte> cloudEvent, string? traceParent, string? traceState) : IDisposable
{
    private JsonDocument? _parsed;
    private bool _parseFailed;

    public Delivered Delivery { get; } = delivery;

    /// <summary>The id of its entry in a bulk delivery: its delivery id, unique per attempt.</summary>
    public string EntryId => Delivery.DeliveryId;

    public ReadOnlyMemory<byte> CloudEvent { get; } = cloudEvent;

    public string? TraceParent { get; } = traceParent;

    public string? TraceState { get; } = traceState;

    /// <summary>The CloudEvent as a JSON object; null when its bytes are not one.</summary>
    public JsonElement? Parsed
    {
        get
        {
            if (_parsed is null && !_parseFailed)
            {
                try
                {
                    _parsed = JsonDocument.Parse(CloudEvent);
                    _parseFailed = _parsed.RootElement.ValueKind != JsonValueKind.Object;
                }
                catch (JsonException)
                {
                    _parseFailed = true;
                }
            }
            return _parseFailed ? null : _parsed!.RootElement;
        }
    }

    public void Dispose() => _parsed?.Dispose();
}

/// <summary>How Delivery reaches one app, as daprd would: its subscriptions, and events one at a time or in bulk.</summary>
internal abstract class AppChannel : IDisposable
{
    /// <summary>The app's subscriptions (none when it has no subscription endpoint); throws when the app cannot be asked.</summary>
    public abstract Task<IReadOnlyList<AppSubscription>> DiscoverAsync(CancellationToken cancellationToken);

    public abstract Task<AppAnswer> DeliverAsync(AppEvent appEvent, string path, AppSubscription subscription, CancellationToken cancellationToken);

    /// <summary>One answer per event, in order.</summary>
    public abstract Task<AppAnswer[]> DeliverBulkAsync(IReadOnlyList<AppEvent> events, string path, AppSubscription subscription, CancellationToken cancellationToken);

    public virtual void Dispose()
    {
    }

    /// <summary>Dapr's status words (case as sent by the SDKs): empty is success, an unknown word is a retry.</summary>
    protected static AppAnswer FromStatusWord(string? status, string what) => status?.ToUpperInvariant() switch
    {
        null or "" or "SUCCESS" => AppAnswer.Success,
        "RETRY" => new AppAnswer(AppStatus.Retry, $"{what} answered RETRY"),
        "DROP" => new AppAnswer(AppStatus.Drop, $"{what} answered DROP"),
        _ => new AppAnswer(AppStatus.Retry, $"{what} answered the unknown status '{status}'"),
    };

    protected static Uri Join(Uri app, string path) => new(app.ToString().TrimEnd('/') + "/" + path.TrimStart('/'));
}
