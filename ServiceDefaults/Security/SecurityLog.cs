using Microsoft.Extensions.Logging;

namespace Broker.ServiceDefaults.Security;

/// <summary>Security events, EventIds 9000-9099 in every service (category <c>Broker.Security</c>; audit lines under <c>Broker.Audit</c>).</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(9001, LogLevel.Warning, "Audit: {Principal} may not {Operation} {ResourceType} '{Resource}': {Reason}", EventName = "AccessDenied")]
    public static partial void AccessDenied(ILogger logger, string principal, string operation, string resourceType, string resource, string reason);

    [LoggerMessage(9002, LogLevel.Debug, "Audit: {Principal} may {Operation} {ResourceType} '{Resource}' ({Reason})", EventName = "AccessAllowed")]
    public static partial void AccessAllowed(ILogger logger, string principal, string operation, string resourceType, string resource, string reason);

    [LoggerMessage(9003, LogLevel.Information, "Authentication failed for a request from {RemoteAddress} to {Path}: {Reason}", EventName = "AuthenticationFailed")]
    public static partial void AuthenticationFailed(ILogger logger, string remoteAddress, string path, string reason);

    [LoggerMessage(9004, LogLevel.Warning,
        "NO AUTHENTICATION IS CONFIGURED: anyone who reaches this service can do anything (set Auth:Keys:<principal>, Auth:Jwt:Authority or Auth:ServiceKey). Listening on loopback only, so that is allowed.",
        EventName = "OpenOnLoopback")]
    public static partial void OpenOnLoopback(ILogger logger);

    [LoggerMessage(9005, LogLevel.Warning,
        "NO AUTHENTICATION IS CONFIGURED and this service listens beyond loopback ({Addresses}): anyone who reaches it can do anything. Auth:AllowAnonymous=true says that is intended.",
        EventName = "OpenBeyondLoopback")]
    public static partial void OpenBeyondLoopback(ILogger logger, string addresses);

    [LoggerMessage(9006, LogLevel.Information, "Authentication on: {Keys} API key(s), service key {ServiceKey}, JWT issuer {Issuer}; {Superusers} superuser(s)", EventName = "AuthenticationOn")]
    public static partial void AuthenticationOn(ILogger logger, int keys, string serviceKey, string issuer, int superusers);

    [LoggerMessage(9010, LogLevel.Information, "ACLs loaded from Storage: version {Version}, {Count} entries", EventName = "AclsLoaded")]
    public static partial void AclsLoaded(ILogger logger, long version, int count);

    [LoggerMessage(9011, LogLevel.Warning, "Watching Storage's ACLs failed ({Reason}); the last ones loaded stay in force, retrying", EventName = "AclWatchFailed")]
    public static partial void AclWatchFailed(ILogger logger, string reason);

    [LoggerMessage(9020, LogLevel.Information, "Quota: {Principal} is over its {Kind} quota ({Rate} bytes/s); throttled for {DelayMs} ms", EventName = "QuotaThrottled")]
    public static partial void QuotaThrottled(ILogger logger, string principal, string kind, long rate, long delayMs);

    [LoggerMessage(9030, LogLevel.Information, "TLS as a client: the system's CAs and {Count} from Tls:CaCertificate ({Source}); client certificate {ClientCertificate}", EventName = "TlsClientTrust")]
    public static partial void TlsClientTrust(ILogger logger, int count, string source, string clientCertificate);

    [LoggerMessage(9031, LogLevel.Warning, "Refused the TLS certificate of {Host}: {Reason}", EventName = "TlsServerCertificateRefused")]
    public static partial void TlsServerCertificateRefused(ILogger logger, string host, string reason);

    [LoggerMessage(9032, LogLevel.Warning, "Refused a TLS client certificate ({Subject}): {Reason}", EventName = "TlsClientCertificateRefused")]
    public static partial void TlsClientCertificateRefused(ILogger logger, string subject, string reason);
}
