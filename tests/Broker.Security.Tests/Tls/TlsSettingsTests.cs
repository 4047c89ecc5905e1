extern alias storage;

using Broker.Security.Tests.Hosting;
using Broker.Testing;

namespace Broker.Security.Tests.Tls;

/// <summary>Bad Tls settings stop the start, naming the setting, instead of leaving a service that cannot make its calls.</summary>
[Collection(RedisCollection.Name)]
public sealed class TlsSettingsTests(RedisFixture redis) : IDisposable
{
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public void Dispose() => _certificates.Dispose();

    [Theory]
    [InlineData("no CA file", "Tls:CaCertificate: no file /no/such/ca.pem")]
    [InlineData("a CA file with no certificate", "holds no PEM certificate")]
    [InlineData("a key without a certificate", "Tls:ClientCertificate:KeyPath is set but Tls:ClientCertificate:Path is not.")]
    [InlineData("a client certificate without its key", "Tls:ClientCertificate: cannot read a certificate with its private key from")]
    public void Bad_tls_settings_stop_the_start_naming_the_setting(string what, string expected)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Storage:KeyPrefix"] = redis.NewPrefix("tls-settings").TrimEnd(':'),
            ["Storage:Segments:Store"] = "none",
        };
        switch (what)
        {
            case "no CA file":
                settings["Tls:CaCertificate"] = "/no/such/ca.pem";
                break;
            case "a CA file with no certificate":
                settings["Tls:CaCertificate"] = _certificates.ClientKeyFile;
                break;
            case "a key without a certificate":
                settings["Tls:ClientCertificate:KeyPath"] = _certificates.ClientKeyFile;
                break;
            default:
                settings["Tls:ClientCertificate:Path"] = _certificates.ClientCertificateFile;
                break;
        }
        var refused = Assert.ThrowsAny<Exception>(() => TlsService.Start<storage::Program>(null, settings));
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
    }
}
