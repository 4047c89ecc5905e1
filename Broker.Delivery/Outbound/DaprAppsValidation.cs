using Broker.Delivery.Dapr;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Outbound;

/// <summary>Apps from configuration (Delivery:Dapr:Apps) go to allowed hosts only, without credentials in their URLs: checked on start.</summary>
internal sealed class DaprAppsValidation(OutboundPolicy policy) : IValidateOptions<DaprDeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DaprDeliveryOptions options)
    {
        var failures = new List<string>();
        foreach (var (appId, app) in options.Apps)
        {
            if (Uri.TryCreate(app.Url, UriKind.Absolute, out var url) && policy.Check(url) is { } refusal)
            {
                failures.Add($"Delivery:Dapr:Apps:{appId}:Url: {refusal}");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
