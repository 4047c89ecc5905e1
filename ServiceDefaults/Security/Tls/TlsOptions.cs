namespace Broker.ServiceDefaults.Security.Tls;

/// <summary>
/// How this service trusts the TLS servers it calls (the broker's other services, an OIDC issuer, Redis, S3) and
/// which certificate it shows them; bound from "Tls" (see docs/security.md, "TLS"). Serving TLS is Kestrel's own
/// settings (Kestrel:Endpoints:{name}:Url https://..., Certificate:Path / KeyPath / Password), not these.
/// </summary>
public sealed class TlsOptions
{
    public const string SectionName = "Tls";

    /// <summary>
    /// A PEM file of one or more CA certificates. Servers whose certificate chains to one of them are trusted as well
    /// as those the system trusts (host names are checked either way), and, on an endpoint that asks for client
    /// certificates (Kestrel:Endpoints:{name}:ClientCertificateMode), so are clients whose certificate chains to one.
    /// </summary>
    public string? CaCertificate { get; set; }

    /// <summary>The certificate this service presents when a server asks for one (mutual TLS).</summary>
    public ClientCertificateSettings ClientCertificate { get; set; } = new();

    /// <summary>Kestrel's certificate shape: a PEM certificate with its key (KeyPath, or in the same file), or a PKCS#12 file; Password for an encrypted key or a PKCS#12 file.</summary>
    public sealed class ClientCertificateSettings
    {
        public string? Path { get; set; }

        public string? KeyPath { get; set; }

        public string? Password { get; set; }
    }
}
