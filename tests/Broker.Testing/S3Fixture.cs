namespace Broker.Testing;

/// <summary>
/// One s3rver for every test in a collection (each test uses its own key prefix), and the configuration that
/// points a Storage host at it: Storage:Segments:Store s3, path-style, s3rver's credentials.
/// </summary>
public sealed class S3Fixture : IAsyncLifetime
{
    private S3ServerProcess? _server;

    public S3ServerProcess Server => _server ?? throw new InvalidOperationException("S3Fixture is not initialized.");

    /// <summary>Storage settings for a segment store on this server under <paramref name="prefix"/>.</summary>
    public Dictionary<string, string> StorageSettings(string prefix) => new()
    {
        ["Storage:Segments:Store"] = "s3",
        ["Storage:Segments:Prefix"] = prefix,
        ["Storage:Segments:S3:Bucket"] = S3ServerProcess.Bucket,
        ["Storage:Segments:S3:ServiceUrl"] = Server.ServiceUrl,
        ["Storage:Segments:S3:ForcePathStyle"] = "true",
        ["Storage:Segments:S3:AccessKey"] = S3ServerProcess.AccessKey,
        ["Storage:Segments:S3:SecretKey"] = S3ServerProcess.SecretKey,
    };

    public async Task InitializeAsync() => _server = await S3ServerProcess.StartNewAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
