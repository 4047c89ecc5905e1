namespace SchemaRegistry.Registry;

/// <summary>The registry's log messages, source-generated.</summary>
internal static partial class RegistryLog
{
    [LoggerMessage(1, LogLevel.Information, "Registered version {Version} of subject '{Subject}' with schema id {Id}")]
    public static partial void Registered(ILogger logger, string subject, int version, int id);

    [LoggerMessage(2, LogLevel.Information, "Deleted subject '{Subject}' (permanent: {Permanent}, {Versions} versions)")]
    public static partial void SubjectDeleted(ILogger logger, string subject, bool permanent, int versions);

    [LoggerMessage(3, LogLevel.Error, "Request {Method} {Path} failed (answered 500)")]
    public static partial void Failed(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "No ConnectionStrings:redis is set: the registry keeps its schemas in {Path}, for this one instance only.")]
    public static partial void FileStore(ILogger logger, string path);

    [LoggerMessage(5, LogLevel.Information, "Schemas are kept in Redis ({Endpoints}), key prefix '{Prefix}'")]
    public static partial void RedisStore(ILogger logger, string endpoints, string prefix);

    [LoggerMessage(6, LogLevel.Error, "Request {Method} {Path} failed: the schema store failed (answered 50001)")]
    public static partial void StoreFailed(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(7, LogLevel.Error, "Request {Method} {Path} failed: the schema store did not answer in time (answered 50002)")]
    public static partial void StoreTimedOut(ILogger logger, string method, string path, Exception exception);
}
