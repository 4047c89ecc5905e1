using System.Security.Claims;

namespace Broker.ServiceDefaults.Security;

/// <summary>Who a request acts for: the principal's name, the broker's own services, and the open broker's anonymous caller.</summary>
public static class Principals
{
    /// <summary>Everyone, when no credential is configured.</summary>
    public const string Anonymous = "anonymous";

    /// <summary>The broker's own services, calling with Auth:ServiceKey.</summary>
    public const string Service = "broker-service";

    /// <summary>The claim that holds the principal's name, whatever the credential was.</summary>
    public const string NameClaim = "broker/principal";

    /// <summary>Set when a service called on behalf of the principal (<see cref="OnBehalfOfHeader"/>).</summary>
    public const string ViaServiceClaim = "broker/via-service";

    /// <summary>How a service (and only a service) names the end user it acts for; every right is then checked as that user's.</summary>
    public const string OnBehalfOfHeader = "x-broker-principal";

    public const string AuthenticationType = "broker";

    public const int MaxNameLength = 256;

    /// <summary>What is wrong with a principal's name, or null: 1 to 256 characters, none of them a space or a control character.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            return $"a principal's name has 1 to {MaxNameLength} characters.";
        }
        foreach (var c in name)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return $"the principal '{name}' has a space or a control character.";
            }
        }
        return name is Service or Anonymous or "*" ? $"'{name}' is the broker's own name for a principal." : null;
    }

    /// <summary>The principal's name (<see cref="Anonymous"/> when nobody authenticated).</summary>
    public static string Name(this ClaimsPrincipal user) => user.Identity switch
    {
        // Read on every check of every request: the name is kept beside the claims, which are only enumerable.
        BrokerIdentity broker => broker.Principal,
        { IsAuthenticated: true } => user.FindFirstValue(NameClaim) ?? Anonymous,
        _ => Anonymous,
    };

    /// <summary>True for the broker's services acting as themselves (not on behalf of a user).</summary>
    public static bool IsService(this ClaimsPrincipal user) => user.Name() == Service;

    public static ClaimsPrincipal Create(string name, string authenticationType, bool viaService = false) =>
        new(new BrokerIdentity(name, authenticationType, viaService));

    /// <summary>An authenticated caller as the broker knows it: the principal's name (also as a claim) and how it got in.</summary>
    private sealed class BrokerIdentity : ClaimsIdentity
    {
        public BrokerIdentity(string principal, string authenticationType, bool viaService)
            : base(authenticationType, NameClaim, ClaimTypes.Role)
        {
            Principal = principal;
            AddClaim(new Claim(NameClaim, principal));
            if (viaService)
            {
                AddClaim(new Claim(ViaServiceClaim, "true"));
            }
        }

        public string Principal { get; }
    }
}
