using System.ComponentModel.DataAnnotations;

namespace Broker.Delivery.Outbound;

/// <summary>
/// Where Delivery may call out to (Dapr app URLs, replay URL targets) and how much of an answer it reads; bound from
/// "Delivery:Outbound".
/// </summary>
public sealed class OutboundOptions : IValidatableObject
{
    public const string SectionName = "Delivery:Outbound";

    /// <summary>The setting's name as errors and logs give it.</summary>
    public const string AllowedHostsSetting = "Delivery:Outbound:AllowedHosts";

    /// <summary>
    /// Hosts Delivery may call: names (<c>orders</c>), <c>*.suffix</c> wildcards (any name under the suffix, not the
    /// suffix itself), IP addresses (<c>10.0.0.7</c>, <c>::1</c> or <c>[::1]</c>), each optionally with <c>:port</c>
    /// (then only that port). Empty: loopback only (127.0.0.0/8, ::1, <c>localhost</c>) in Development, nothing
    /// otherwise.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>
    /// The most Delivery reads of one answer from an app (<c>/dapr/subscribe</c>, an event's or a bulk call's answer,
    /// a gRPC message); an answer past it is a failure, read no further.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 1024 * 1024;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var entry in AllowedHosts)
        {
            if (AllowedHost.Parse(entry) is null)
            {
                yield return new ValidationResult(
                    $"{AllowedHostsSetting}: '{entry}' is not a host name, a '*.suffix' wildcard or an IP address, each optionally with ':port' (1 to 65535).",
                    [nameof(AllowedHosts)]);
            }
        }
    }
}
