using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// The configured secrets, kept as SHA-256 digests and compared in constant time: a lookup compares the presented
/// secret's digest with every entry's and takes no shortcut, so neither which key matched nor how much of it did
/// shows in the time taken. Equal-length digests also hide the secrets' lengths.
/// </summary>
public sealed class KeyRing
{
    private readonly (string Principal, byte[] Digest)[] _entries;

    public KeyRing(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        var entries = o.Keys.Select(k => (k.Key, Digest(k.Value))).ToList();
        if (!string.IsNullOrEmpty(o.ServiceKey))
        {
            entries.Add((Principals.Service, Digest(o.ServiceKey)));
        }
        _entries = [.. entries];
    }

    public bool IsEmpty => _entries.Length == 0;

    /// <summary>The longest secret looked up; anything longer is no secret of ours.</summary>
    public const int MaxSecretLength = 1024;

    /// <summary>The principal whose secret this is, or null.</summary>
    public string? Find(ReadOnlySpan<char> secret)
    {
        if (secret.Length > MaxSecretLength)
        {
            return null;
        }
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> bytes = stackalloc byte[MaxSecretLength * 3];
        var length = Encoding.UTF8.GetBytes(secret, bytes);
        SHA256.HashData(bytes[..length], digest);
        string? found = null;
        foreach (var (principal, expected) in _entries)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, expected))
            {
                found = principal;
            }
        }
        return found;
    }

    private static byte[] Digest(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
