using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security.Tls;

/// <summary>
/// The one place a broker service's TLS trust is decided, for every client it has: HttpClients from the factory
/// (<see cref="TlsHttpClientFilter"/>, so the gRPC clients too), the Dapr component's channels, JwtBearer's metadata
/// backchannel, Redis and S3; and, on endpoints that ask for client certificates, Kestrel's check of them.
/// A server certificate the system trusts passes as it always would; one whose only fault is a chain the system does
/// not trust passes when it chains (CustomRootTrust, with the intermediates the peer sent) to a CA of
/// <see cref="TlsOptions.CaCertificate"/>. A wrong host name, or no certificate, never passes: validation is never off.
/// </summary>
public sealed class TlsTrust
{
    /// <summary>The extended key usages a TLS server's and a TLS client's certificate need.</summary>
    private static readonly Oid s_serverAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid s_clientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2Collection _roots;
    private readonly ILogger _logger;

    public TlsTrust(IOptions<TlsOptions> options, ILogger<TlsTrust> logger)
    {
        try
        {
            _roots = string.IsNullOrWhiteSpace(options.Value.CaCertificate)
                ? []
                : ReadCaCertificates(options.Value.CaCertificate, $"{TlsOptions.SectionName}:{nameof(TlsOptions.CaCertificate)}");
            ClientCertificate = ReadClientCertificate(options.Value.ClientCertificate);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }
        CaSource = options.Value.CaCertificate;
        _logger = logger;
    }

    private TlsTrust(X509Certificate2Collection roots, string? source, X509Certificate2? client, ILogger logger)
    {
        _roots = roots;
        CaSource = source;
        ClientCertificate = client;
        _logger = logger;
    }

    /// <summary>The system's trust and no client certificate: what a client has with no Tls settings.</summary>
    public static TlsTrust System { get; } = new([], null, null, NullLogger.Instance);

    /// <summary>The CAs trusted besides the system's (none when Tls:CaCertificate is unset).</summary>
    public IReadOnlyList<X509Certificate2> CaCertificates => [.. _roots];

    /// <summary>Where the CAs came from, for the start-up line.</summary>
    public string? CaSource { get; }

    /// <summary>The certificate presented when a server asks for one; null when Tls:ClientCertificate is unset.</summary>
    public X509Certificate2? ClientCertificate { get; }

    public bool HasCaCertificates => _roots.Count > 0;

    /// <summary>True when anything differs from a plain client's TLS: extra CAs or a client certificate.</summary>
    public bool IsConfigured => HasCaCertificates || ClientCertificate is not null;

    /// <summary>The same client certificate with other CAs (the Dapr component's caCertificate metadata).</summary>
    public TlsTrust WithCaCertificates(X509Certificate2Collection roots, string source) => new(roots, source, ClientCertificate, _logger);

    /// <summary>A <see cref="RemoteCertificateValidationCallback"/> for a server's certificate: the system's verdict, or a chain to one of the CAs.</summary>
    public bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        ValidateServer(HostOf(sender), certificate, chain, errors);

    /// <summary>Kestrel's ClientCertificateValidation: a client certificate the system trusts, or one that chains to one of the CAs.</summary>
    public bool ValidateClientCertificate(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // A client certificate has no host name to match; only its chain counts.
        if ((errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None)
        {
            return true;
        }
        if (!errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) && HasCaCertificates && ChainsToRoots(certificate, chain, s_clientAuthentication))
        {
            return true;
        }
        SecurityLog.TlsClientCertificateRefused(_logger, certificate.Subject,
            "it chains neither to a CA the system trusts nor to one in Tls:CaCertificate (or it has expired, or is not for TLS clients)");
        return false;
    }

    /// <summary>A new handler with this trust (and the client certificate): for clients not made by the HttpClient factory.</summary>
    public SocketsHttpHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler();
        Configure(handler);
        return handler;
    }

    /// <summary>
    /// Puts this trust on <paramref name="handler"/>, and the client certificate unless <paramref name="presentClientCertificate"/>
    /// is false; what the handler already decides for itself (its own callback, its own certificates) it keeps.
    /// </summary>
    public void Configure(SocketsHttpHandler handler, bool presentClientCertificate = true)
    {
        if (HasCaCertificates)
        {
            handler.SslOptions.RemoteCertificateValidationCallback ??= ValidateServerCertificate;
        }
        if (presentClientCertificate && ClientCertificate is { } certificate
            && handler.SslOptions.LocalCertificateSelectionCallback is null && handler.SslOptions.ClientCertificates is not { Count: > 0 })
        {
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }
    }

    /// <summary>The same for an <see cref="HttpClientHandler"/> (the factory's default primary handler).</summary>
    public void Configure(HttpClientHandler handler)
    {
        if (HasCaCertificates)
        {
            handler.ServerCertificateCustomValidationCallback ??= (request, certificate, chain, errors) =>
                ValidateServer(request.RequestUri?.Host, certificate, chain, errors);
        }
        if (ClientCertificate is { } certificate && handler.ClientCertificateOptions == ClientCertificateOption.Manual && handler.ClientCertificates.Count == 0)
        {
            handler.ClientCertificates.Add(certificate);
        }
    }

    private bool ValidateServer(string? host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        string reason;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reason = "it sent no certificate";
        }
        else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reason = "its certificate is not for this host name";
        }
        else if (HasCaCertificates && ChainsToRoots(certificate, chain, s_serverAuthentication))
        {
            return true;
        }
        else
        {
            reason = HasCaCertificates
                ? "its certificate chains neither to a CA the system trusts nor to one in Tls:CaCertificate (or it has expired, or is not for TLS servers)"
                : "its certificate does not chain to a CA the system trusts";
        }
        SecurityLog.TlsServerCertificateRefused(_logger, host ?? "(unknown host)", reason);
        return false;
    }

    /// <summary>Whether <paramref name="certificate"/> chains to one of the CAs for <paramref name="usage"/>, with the intermediates the peer sent.</summary>
    private bool ChainsToRoots(X509Certificate certificate, X509Chain? presented, Oid usage)
    {
        var loaded = certificate as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        try
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
            custom.ChainPolicy.ApplicationPolicy.Add(usage);
            // As the system's check by default (HttpClient's CheckCertificateRevocationList is false): a private CA seldom publishes a CRL.
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (presented is not null)
            {
                custom.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
                foreach (var element in presented.ChainElements.Skip(1))
                {
                    custom.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }
            return custom.Build(loaded ?? (X509Certificate2)certificate);
        }
        finally
        {
            loaded?.Dispose();
        }
    }

    private static string? HostOf(object sender) => sender switch
    {
        SslStream stream => stream.TargetHostName,
        HttpRequestMessage request => request.RequestUri?.Host,
        _ => null,
    };

    /// <summary>
    /// The CAs of a PEM file, or of PEM text (<paramref name="pathOrPem"/> starting "-----BEGIN", as a secret may hold it).
    /// A missing, unreadable or empty one is an <see cref="ArgumentException"/> naming <paramref name="setting"/>.
    /// </summary>
    public static X509Certificate2Collection ReadCaCertificates(string pathOrPem, string setting)
    {
        var inline = pathOrPem.TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal);
        var what = inline ? "the PEM text given" : pathOrPem;
        var roots = new X509Certificate2Collection();
        try
        {
            if (inline)
            {
                roots.ImportFromPem(pathOrPem);
            }
            else
            {
                roots.ImportFromPemFile(pathOrPem);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"{setting}: no file {pathOrPem}.", ex);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{setting}: cannot read {what} as PEM certificates: {ex.Message}", ex);
        }
        return roots.Count > 0 ? roots : throw new ArgumentException($"{setting}: {what} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
    }

    /// <summary>The client certificate with its private key, as Kestrel reads a certificate (Path, KeyPath, Password); null when none is set.</summary>
    public static X509Certificate2? ReadClientCertificate(TlsOptions.ClientCertificateSettings settings)
    {
        const string Setting = $"{TlsOptions.SectionName}:{nameof(TlsOptions.ClientCertificate)}";
        if (string.IsNullOrWhiteSpace(settings.Path))
        {
            return string.IsNullOrWhiteSpace(settings.KeyPath)
                ? null
                : throw new ArgumentException($"{Setting}:KeyPath is set but {Setting}:Path is not.");
        }
        X509Certificate2 loaded;
        try
        {
            var extension = Path.GetExtension(settings.Path);
            if (string.IsNullOrWhiteSpace(settings.KeyPath) && (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase)))
            {
                loaded = X509CertificateLoader.LoadPkcs12FromFile(settings.Path, settings.Password);
            }
            else
            {
                var keyPath = string.IsNullOrWhiteSpace(settings.KeyPath) ? null : settings.KeyPath;
                using var pem = settings.Password is null
                    ? X509Certificate2.CreateFromPemFile(settings.Path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(settings.Path, settings.Password, keyPath);
                // A key read from PEM is ephemeral; through PKCS#12 it suits every TLS stack (Windows' needs that).
                loaded = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"{Setting}: no file {settings.Path}{(settings.KeyPath is null ? "" : $" or {settings.KeyPath}")}.", ex);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ArgumentException($"{Setting}: cannot read a certificate with its private key from {settings.Path}{(settings.KeyPath is null ? "" : $" and {settings.KeyPath}")}: {ex.Message}", ex);
        }
        if (!loaded.HasPrivateKey)
        {
            loaded.Dispose();
            throw new ArgumentException($"{Setting}: {settings.Path} has no private key (set {Setting}:KeyPath).");
        }
        return loaded;
    }
}
