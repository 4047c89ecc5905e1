using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security;

/// <summary>
/// The configured secrets, kept only as SHA-256 digests. A presented secret is hashed and looked up by its digest, then
/// the stored digest is compared with it in constant time: how long a lookup takes says nothing about how much of any
/// secret a guess shares (a one-character change changes the whole digest), and equal-length digests hide the
/// secrets' lengths. One hash and one lookup per call, however many keys are configured.
/// </summary>
public sealed class KeyRing
{
    /// <summary>The longest secret looked up; anything longer is no secret of ours.</summary>
    public const int MaxSecretLength = 1024;

    private readonly Dictionary<Digest, (string Principal, byte[] Digest)> _entries = [];

    public KeyRing(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        foreach (var (principal, secret) in o.Keys)
        {
            Add(principal, secret);
        }
        if (!string.IsNullOrEmpty(o.ServiceKey))
        {
            Add(Principals.Service, o.ServiceKey);
        }
    }

    public bool IsEmpty => _entries.Count == 0;

    /// <summary>The principal whose secret this is, or null.</summary>
    public string? Find(ReadOnlySpan<char> secret)
    {
        if (secret.Length > MaxSecretLength)
        {
            return null;
        }
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        var most = Encoding.UTF8.GetMaxByteCount(secret.Length);
        Span<byte> bytes = most <= 256 ? stackalloc byte[256] : new byte[most];
        SHA256.HashData(bytes[..Encoding.UTF8.GetBytes(secret, bytes)], digest);
        return _entries.TryGetValue(Digest.Of(digest), out var entry) && CryptographicOperations.FixedTimeEquals(digest, entry.Digest)
            ? entry.Principal
            : null;
    }

    private void Add(string principal, string secret)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        _entries[Digest.Of(digest)] = (principal, digest);
    }

    /// <summary>A SHA-256 digest as a dictionary key without an allocation.</summary>
    private readonly record struct Digest(UInt128 High, UInt128 Low)
    {
        public static Digest Of(ReadOnlySpan<byte> digest) =>
            new(BinaryPrimitives.ReadUInt128LittleEndian(digest), BinaryPrimitives.ReadUInt128LittleEndian(digest[16..]));
    }
}
