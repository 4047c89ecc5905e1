using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Broker.Testing;

namespace Broker.Security.Tests.Tls;

/// <summary>
/// A private CA made for one test, and what it issued, as PEM files in a temporary folder: a server certificate for
/// localhost and 127.0.0.1 (DNS and IP subject alternative names, for TLS servers), a client certificate (for TLS
/// clients), and the CA certificate clients trust. Clients of the test trust the CA only, through .NET's own
/// CustomRootTrust chain policy, not through the broker's code.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string folder)
    {
        Folder = folder;
    }

    public string Folder { get; }

    public string CaFile => Path.Combine(Folder, "ca.pem");

    public string ServerCertificateFile => Path.Combine(Folder, "server.pem");

    public string ServerKeyFile => Path.Combine(Folder, "server.key");

    public string ClientCertificateFile => Path.Combine(Folder, "client.pem");

    public string ClientKeyFile => Path.Combine(Folder, "client.key");

    public X509Certificate2 Ca { get; private set; } = null!;

    public X509Certificate2 Client { get; private set; } = null!;

    public static TestCertificates Create()
    {
        var certificates = new TestCertificates(Directory.CreateTempSubdirectory("broker-tls-").FullName);
        certificates.Make();
        return certificates;
    }

    public RedisTls ForRedis => new(ServerCertificateFile, ServerKeyFile, CaFile);

    public S3Tls ForS3 => new(ServerCertificateFile, ServerKeyFile, CaFile);

    /// <summary>The settings that make a service serve every Kestrel https endpoint with the server certificate.</summary>
    public Dictionary<string, string> KestrelCertificate() => new()
    {
        ["Kestrel:Certificates:Default:Path"] = ServerCertificateFile,
        ["Kestrel:Certificates:Default:KeyPath"] = ServerKeyFile,
    };

    /// <summary>A handler that trusts this CA (and nothing else), presenting the client certificate when asked to.</summary>
    public SocketsHttpHandler TrustingHandler(bool presentClientCertificate = false)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(Ca);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = policy;
        if (presentClientCertificate)
        {
            handler.SslOptions.ClientCertificates = [Client];
        }
        return handler;
    }

    private void Make()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Broker Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        Ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        File.WriteAllText(CaFile, Ca.ExportCertificatePem());

        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        using var server = Issue("CN=localhost", "1.3.6.1.5.5.7.3.1", names.Build(), 2, ServerCertificateFile, ServerKeyFile);
        Client = Issue("CN=broker-service", "1.3.6.1.5.5.7.3.2", null, 3, ClientCertificateFile, ClientKeyFile);
    }

    /// <summary>A leaf of the CA for one extended key usage, written as PEM; answered with its key.</summary>
    private X509Certificate2 Issue(string subject, string usage, X509Extension? names, byte serial, string certificateFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (names is not null)
        {
            request.CertificateExtensions.Add(names);
        }
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(Ca, now.AddDays(-1), now.AddDays(90), [serial, 0x42]);
        File.WriteAllText(certificateFile, issued.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12, as a certificate with an ephemeral key does not suit every TLS stack.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        Ca?.Dispose();
        Client?.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
