using System.Security.Claims;
using Grpc.Core;

namespace Broker.ServiceDefaults.Security;

/// <summary>How a service calls Storage for a user: its service key plus the user's name, so Storage checks the user's rights.</summary>
public static class OnBehalfOf
{
    /// <summary>The metadata naming the user; null when there is nobody to name (an open broker, or the service acting as itself).</summary>
    public static Metadata? Headers(ClaimsPrincipal user) => Headers(user.Identity?.IsAuthenticated == true && !user.IsService() ? user.Name() : null);

    public static Metadata? Headers(string? principal) =>
        principal is null or Principals.Anonymous or Principals.Service ? null : new Metadata { { Principals.OnBehalfOfHeader, principal } };
}
