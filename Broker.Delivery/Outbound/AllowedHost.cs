using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Broker.Delivery.Outbound;

/// <summary>
/// One entry of Delivery:Outbound:AllowedHosts: a host name (<c>orders</c>), a wildcard over the names under a
/// suffix (<c>*.apps.internal</c>: <c>a.apps.internal</c>, not <c>apps.internal</c>), or an IP address
/// (<c>10.0.0.7</c>, <c>::1</c>, <c>[::1]</c>); each optionally with <c>:port</c>, which then is the only port allowed.
/// </summary>
internal sealed record AllowedHost(AllowedHostKind Kind, string Host, IPAddress? Address, int? Port)
{
    /// <summary>The entry, or null when it is none of the shapes above.</summary>
    public static AllowedHost? Parse(string? text)
    {
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            // [v6] or [v6]:port
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':'))
                {
                    return null;
                }
                port = rest[1..];
            }
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return null;
            }
        }
        else if (text.Count(c => c == ':') > 1)
        {
            host = text; // a bare IPv6 address: no port without brackets
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            (host, port) = colon < 0 ? (text, null) : (text[..colon], text[(colon + 1)..]);
        }

        int? portNumber = null;
        if (port is not null)
        {
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                return null;
            }
            portNumber = p;
        }
        if (ParseAddress(host) is { } address)
        {
            return new AllowedHost(AllowedHostKind.Address, address.ToString(), address, portNumber);
        }
        if (host.Contains(':', StringComparison.Ordinal) || host.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return null; // looked like an address and is not one
        }
        var name = NormalizeName(host);
        if (name.StartsWith("*.", StringComparison.Ordinal))
        {
            return IsName(name[2..]) ? new AllowedHost(AllowedHostKind.Suffix, name[1..], null, portNumber) : null;
        }
        return IsName(name) ? new AllowedHost(AllowedHostKind.Name, name, null, portNumber) : null;
    }

    /// <summary>Whether a URL's host (its name, or its address when it is an IP literal) and port are this entry's.</summary>
    public bool Matches(string name, IPAddress? address, int port)
    {
        if (Port is { } only && only != port)
        {
            return false;
        }
        return Kind switch
        {
            AllowedHostKind.Address => address is not null && SameAddress(address, Address!),
            AllowedHostKind.Name => address is null && string.Equals(name, Host, StringComparison.Ordinal),
            _ => address is null && name.Length > Host.Length && name.EndsWith(Host, StringComparison.Ordinal),
        };
    }

    /// <summary>An IP literal (IPv4 in dotted quads only, so a name of digits is not taken for one), IPv4-mapped IPv6 as IPv4.</summary>
    public static IPAddress? ParseAddress(string text)
    {
        text = text.Trim('[', ']');
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(text, out var v6) ? Normalize(v6) : null;
        }
        return text.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))
            && IPAddress.TryParse(text, out var v4) ? v4 : null;
    }

    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    public static bool SameAddress(IPAddress a, IPAddress b)
    {
        a = Normalize(a);
        b = Normalize(b);
        return a.AddressFamily == b.AddressFamily && a.GetAddressBytes().AsSpan().SequenceEqual(b.GetAddressBytes());
    }

    /// <summary>Lower case, without a trailing dot: how names are compared.</summary>
    public static string NormalizeName(string name) => name.TrimEnd('.').ToLowerInvariant();

    private static bool IsName(string name) =>
        name.Length is > 0 and <= 253
        && name.Split('.').All(label => label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
}

internal enum AllowedHostKind
{
    Name,
    Suffix,
    Address,
}
