using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Broker.Ctl.Client;

/// <summary>
/// Trust in extra CAs (<c>--ca-cert</c>, a PEM file) on top of the system's: a server certificate the system trusts
/// passes as it always would; one whose only fault is a chain the system does not trust passes when it chains to one
/// of these CAs (for server authentication, as TLS checks it). A wrong host name, or no certificate, never passes.
/// </summary>
public sealed class CaTrust
{
    /// <summary>The extended key usage a TLS server's certificate needs.</summary>
    private static readonly Oid s_serverAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509Certificate2Collection _roots;

    public CaTrust(X509Certificate2Collection roots)
    {
        ArgumentOutOfRangeException.ThrowIfZero(roots.Count);
        _roots = roots;
    }

    /// <summary>The CAs of a PEM file; a missing or unreadable file is bad input (exit 2).</summary>
    public static CaTrust Load(string path)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CtlException($"--ca-cert: no file {path}.", 2);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new CtlException($"--ca-cert: cannot read {path} as PEM certificates: {ex.Message}", 2);
        }
        return roots.Count > 0 ? new CaTrust(roots) : throw new CtlException($"--ca-cert: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).", 2);
    }

    /// <summary>Why the last certificate refused was refused, in words for an error message; null when none was.</summary>
    public string? LastRefusal { get; private set; }

    /// <summary>A <see cref="RemoteCertificateValidationCallback"/>: the system's verdict, or a chain to one of the CAs.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            LastRefusal = "the server sent no certificate";
            return false;
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            LastRefusal = "the server's certificate is not for this host name";
            return false;
        }
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (ChainsToRoots(leaf, chain))
        {
            return true;
        }
        LastRefusal = "the server's certificate chains neither to a CA the system trusts nor to one in --ca-cert (or it has expired, or is not for TLS servers)";
        return false;
    }

    /// <summary>Whether <paramref name="leaf"/> chains to one of the CAs, with the intermediates the server sent.</summary>
    public bool ChainsToRoots(X509Certificate2 leaf, X509Chain? presented)
    {
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
        custom.ChainPolicy.ApplicationPolicy.Add(s_serverAuthentication);
        // As HttpClient checks the system's chain by default (CheckCertificateRevocationList is false).
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements.Skip(1))
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        return custom.Build(leaf);
    }
}
