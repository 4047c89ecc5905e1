using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace Broker.ServiceDefaults.Security;

/// <summary>Puts the service key on a call from one broker service to another (Storage's log API, the registry, the ACL watch).</summary>
public sealed class ServiceCredentialHandler(IOptions<AuthOptions> options) : DelegatingHandler
{
    private readonly AuthenticationHeaderValue? _credential =
        string.IsNullOrEmpty(options.Value.ServiceKey) ? null : new AuthenticationHeaderValue("Bearer", options.Value.ServiceKey);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_credential is not null && request.Headers.Authorization is null)
        {
            request.Headers.Authorization = _credential;
        }
        return base.SendAsync(request, cancellationToken);
    }
}
