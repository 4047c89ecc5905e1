namespace Broker.ServiceDefaults.Security;

/// <summary>
/// Who may call the broker (section <c>Auth</c>): API keys by principal (<c>Auth__Keys__alice=secret</c>), superusers,
/// the one key the broker's services share (<c>Auth__ServiceKey</c>) and an OIDC issuer's JWTs. With none of these the
/// broker runs open (everyone is <see cref="Principals.Anonymous"/>, every right granted), which it says at start-up and
/// refuses beyond loopback unless <see cref="AllowAnonymous"/>.
/// </summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>The shortest secret taken: a shorter one is a password, not a key.</summary>
    public const int MinSecretLength = 16;

    /// <summary>Principal name → secret. Clients send <c>Authorization: Bearer {secret}</c> (or Basic principal:secret, or <c>dapr-api-token</c>).</summary>
    public Dictionary<string, string> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Principals every ACL check allows.</summary>
    public List<string> Superusers { get; set; } = [];

    /// <summary>The credential the broker's services call each other with (Storage's log API is internal).</summary>
    public string? ServiceKey { get; set; }

    public JwtAuthOptions Jwt { get; set; } = new();

    /// <summary>Run open on a non-loopback address all the same.</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>Whether /metrics needs a credential too (it is open by default, as scrapers expect).</summary>
    public bool ProtectMetrics { get; set; }

    /// <summary>How many ACL entries the broker keeps at most (each entry is one operation of one binding).</summary>
    public int MaxAcls { get; set; } = 10_000;

    /// <summary>Where a service that is not Storage reads the ACLs from (Storage's gRPC endpoint); the service's own Storage address when unset.</summary>
    public string? StorageAddress { get; set; }

    /// <summary>True when any credential is configured: every request must then carry one.</summary>
    public bool Enabled => Keys.Count > 0 || !string.IsNullOrEmpty(ServiceKey) || Jwt.Enabled;

    /// <summary>What is wrong with the settings, each naming its key; empty when they are usable.</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (principal, secret) in Keys)
        {
            if (Principals.Check(principal) is { } nameError)
            {
                yield return $"Auth:Keys:{principal}: {nameError}";
            }
            else if (principal.Contains(':', StringComparison.Ordinal))
            {
                yield return $"Auth:Keys:{principal}: a key's principal has no ':' (Basic auth splits principal:secret on it).";
            }
            if (string.IsNullOrEmpty(secret) || secret.Length < MinSecretLength || secret.Length > KeyRing.MaxSecretLength)
            {
                yield return $"Auth:Keys:{principal}: a secret has {MinSecretLength} to {KeyRing.MaxSecretLength} characters.";
            }
        }
        var secrets = Keys.Values.Append(ServiceKey).Where(s => !string.IsNullOrEmpty(s)).ToList();
        if (secrets.Count != secrets.Distinct(StringComparer.Ordinal).Count())
        {
            yield return "Auth:Keys and Auth:ServiceKey: two principals share a secret, so it would not say who is calling.";
        }
        if (ServiceKey is { Length: > 0 and (< MinSecretLength or > KeyRing.MaxSecretLength) })
        {
            yield return $"Auth:ServiceKey: a secret has {MinSecretLength} to {KeyRing.MaxSecretLength} characters.";
        }
        foreach (var superuser in Superusers)
        {
            if (Principals.Check(superuser) is { } nameError)
            {
                yield return $"Auth:Superusers: {nameError}";
            }
        }
        if (Jwt.Enabled && !Uri.TryCreate(Jwt.Authority, UriKind.Absolute, out _))
        {
            yield return "Auth:Jwt:Authority must be the issuer's absolute URL.";
        }
        if (Jwt.Enabled && string.IsNullOrWhiteSpace(Jwt.Audience))
        {
            yield return "Auth:Jwt:Audience must be set with Auth:Jwt:Authority: a token for another service must not be taken here.";
        }
        if (string.IsNullOrWhiteSpace(Jwt.PrincipalClaim))
        {
            yield return "Auth:Jwt:PrincipalClaim must name a claim.";
        }
        if (MaxAcls < 1)
        {
            yield return "Auth:MaxAcls must be at least 1.";
        }
    }
}

/// <summary>JWT bearer tokens from any OIDC issuer (section <c>Auth:Jwt</c>).</summary>
public sealed class JwtAuthOptions
{
    /// <summary>The issuer; its <c>/.well-known/openid-configuration</c> names the signing keys.</summary>
    public string? Authority { get; set; }

    /// <summary>The audience a token must name (<c>aud</c>).</summary>
    public string? Audience { get; set; }

    /// <summary>The claim whose value is the principal (<c>sub</c> by default; e.g. <c>azp</c>, <c>client_id</c> or <c>preferred_username</c>).</summary>
    public string PrincipalClaim { get; set; } = "sub";

    /// <summary>Whether the issuer's metadata must come over HTTPS (turn off only for a local test issuer).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);
}
