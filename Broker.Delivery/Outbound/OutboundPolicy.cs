using System.Net;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Outbound;

/// <summary>
/// Which targets Delivery may call: Delivery:Outbound:AllowedHosts, or, when that is empty, loopback only in
/// Development and nothing otherwise. Asked when a target is declared (the APIs, configured apps), before a stored
/// target is used, on every request (<see cref="OutboundGuardHandler"/>) and for every address a connection goes to
/// (<see cref="OutboundHandlers"/>), always against the setting as it is now.
/// </summary>
public sealed class OutboundPolicy(IOptionsMonitor<OutboundOptions> options, IHostEnvironment environment)
{
    private volatile Rules? _rules;

    public int MaxResponseBytes => Current().Source?.MaxResponseBytes ?? new OutboundOptions().MaxResponseBytes;

    /// <summary>The longest target URL Delivery takes (what browsers and proxies reliably pass on); a longer one is refused.</summary>
    public const int MaxUrlLength = 2048;

    /// <summary>Why Delivery must not call <paramref name="url"/>, or null when it may.</summary>
    public string? Check(Uri url)
    {
        if (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https"))
        {
            return "the target is an absolute http:// or https:// address.";
        }
        if (url.OriginalString.Length > MaxUrlLength)
        {
            return $"the URL is {url.OriginalString.Length} characters long; the most Delivery takes (OutboundPolicy.MaxUrlLength) is {MaxUrlLength}.";
        }
        if (url.UserInfo.Length > 0)
        {
            return "the URL carries credentials (user info before '@'), which Delivery does not send: leave them out.";
        }
        var (name, address) = HostOf(url);
        var rules = Current();
        if (rules.Broken is { } broken)
        {
            return broken;
        }
        if (rules.Entries.Length == 0)
        {
            return environment.IsDevelopment() && (name == "localhost" || address is not null && IPAddress.IsLoopback(address))
                ? null
                : NotAllowed(url);
        }
        return rules.Entries.Any(r => r.Matches(name, address, url.Port)) ? null : NotAllowed(url);
    }

    /// <summary>
    /// Why a connection for <paramref name="host"/> (a URL's host) must not go to <paramref name="address"/>, or null
    /// when it may. With the list empty (Development) only loopback addresses. With a list, an address the list
    /// names, or any address of a host name the list allows, except that a name never leads to a loopback,
    /// link-local, unspecified or multicast address unless the list names that address too (or the name is
    /// <c>localhost</c> and the address loopback): a name that resolves there is not what the list meant.
    /// </summary>
    public string? CheckAddress(string host, int port, IPAddress address)
    {
        address = AllowedHost.Normalize(address);
        var literal = AllowedHost.ParseAddress(host);
        var name = AllowedHost.NormalizeName(host);
        var rules = Current();
        if (rules.Broken is { } broken)
        {
            return broken;
        }
        if (rules.Entries.Length == 0)
        {
            return environment.IsDevelopment() && IPAddress.IsLoopback(address)
                ? null
                : $"host '{host}' resolved to an address that is not loopback, the only one allowed while {OutboundOptions.AllowedHostsSetting} is empty.";
        }
        if (rules.Entries.Any(r => r.Kind == AllowedHostKind.Address && r.Matches(name, address, port)))
        {
            return null;
        }
        if (literal is not null || !rules.Entries.Any(r => r.Kind != AllowedHostKind.Address && r.Matches(name, null, port)))
        {
            return $"host '{host}' is not in {OutboundOptions.AllowedHostsSetting}.";
        }
        if (IsSpecial(address) && !(name == "localhost" && IPAddress.IsLoopback(address)))
        {
            return $"host '{host}' resolved to a loopback or link-local address, which only the address itself in {OutboundOptions.AllowedHostsSetting} allows.";
        }
        return null;
    }

    /// <summary>The URL as it may be shown: user info replaced by <c>***</c>.</summary>
    public static string Redact(Uri url)
    {
        if (!url.IsAbsoluteUri || url.UserInfo.Length == 0)
        {
            return url.ToString();
        }
        var rest = url.GetComponents(UriComponents.Host | UriComponents.Port | UriComponents.PathAndQuery | UriComponents.Fragment, UriFormat.UriEscaped);
        return $"{url.Scheme}://***@{rest}";
    }

    /// <summary>As above, for a URL as it was given or stored.</summary>
    public static string? Redact(string? url) => url switch
    {
        null => null,
        _ when Uri.TryCreate(url, UriKind.Absolute, out var parsed) => Redact(parsed),
        _ when url.Contains('@', StringComparison.Ordinal) => "***",
        _ => url,
    };

    /// <summary>The URL's host as it is compared: its name in lower case, or its address when it is an IP literal.</summary>
    internal static (string Name, IPAddress? Address) HostOf(Uri url)
    {
        var address = url.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 ? AllowedHost.ParseAddress(url.IdnHost) : null;
        return (AllowedHost.NormalizeName(url.IdnHost), address);
    }

    /// <summary>The host (and port, when the URL names one) as errors show it.</summary>
    internal static string Display(Uri url) => url.IsDefaultPort ? url.Host : $"{url.Host}:{url.Port}";

    private string NotAllowed(Uri url)
    {
        var why = Current().Entries.Length > 0 ? ""
            : environment.IsDevelopment() ? " (it is empty: loopback addresses only, in Development)"
            : " (it is empty: no outbound calls outside Development)";
        return $"host '{Display(url)}' is not in {OutboundOptions.AllowedHostsSetting}{why}.";
    }

    private static bool IsSpecial(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return true;
        }
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6Multicast;
        }
        var bytes = address.GetAddressBytes();
        return (bytes[0] == 169 && bytes[1] == 254) || bytes[0] is >= 224 and <= 239;
    }

    /// <summary>
    /// The parsed list, kept until the options change (the monitor hands out a new instance then). A setting changed
    /// at run time into one that is not valid allows nothing until it is mended.
    /// </summary>
    private Rules Current()
    {
        OutboundOptions value;
        try
        {
            value = options.CurrentValue;
        }
        catch (OptionsValidationException ex)
        {
            return new Rules(null, [], $"{OutboundOptions.SectionName} is not valid ({ex.Message}); nothing is called until it is.");
        }
        var rules = _rules;
        if (rules is null || !ReferenceEquals(rules.Source, value))
        {
            rules = new Rules(value, [.. value.AllowedHosts.Select(AllowedHost.Parse).OfType<AllowedHost>()], null);
            _rules = rules;
        }
        return rules;
    }

    private sealed record Rules(OutboundOptions? Source, AllowedHost[] Entries, string? Broken);
}
