using System.Text.Json;
using Broker.Contracts.Naming;
using Broker.Delivery.Dapr;
using Broker.Delivery.Outbound;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Delivery.Apis;

/// <summary>
/// REST for the Dapr apps Delivery delivers to without a sidecar: PUT declares (or changes) an app by id (its URL,
/// http or grpc, and optionally its subscriptions in the JSON shape of <c>/dapr/subscribe</c>, else they are asked
/// from the app), GET shows what this instance delivers to each, DELETE stops delivery to one. Errors are problem
/// details: 400 naming the field (a URL Delivery:Outbound:AllowedHosts does not allow, or with credentials in it, is
/// refused and nothing is stored), 404 for an unknown app, 409 for an app from configuration.
/// </summary>
internal static class AppsApi
{
    public sealed record AppRequest(string? Url, string? Protocol, JsonElement? Subscriptions);

    public sealed record AppList(IReadOnlyList<AppView> Apps);

    public static RouteGroupBuilder MapAppsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/apps").WithTags("Dapr apps");
        // The app id is its consumer group: declaring or removing an app needs read on that group (and read on each
        // declared topic; discovered ones are checked as they are found, with the declaring principal's rights).
        api.MapPut("/{appId}", Put).WithName("PutApp").RequireAcl(AclResourceType.Group, "appId", AclOperation.Read)
            .ChecksAclsInHandler("read on each declared subscription's topic");
        api.MapGet("/", List).WithName("ListApps").ChecksAclsInHandler("lists the apps whose group the caller may describe");
        api.MapGet("/{appId}", Get).WithName("GetApp").RequireAcl(AclResourceType.Group, "appId", AclOperation.Describe);
        api.MapDelete("/{appId}", Delete).WithName("DeleteApp").RequireAcl(AclResourceType.Group, "appId", AclOperation.Read);
        return api;
    }

    public static async Task<Results<Ok<AppView>, Created<AppView>, ValidationProblem, ProblemHttpResult>> Put(
        string appId, AppRequest? request, IDaprAppStore store, DaprAppDelivery delivery, OutboundPolicy outbound, AccessControl access, HttpContext http,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (DaprAppDelivery.CheckAppId(appId) is { } idError)
        {
            errors["appId"] = [idError];
        }
        if (!Uri.TryCreate(request?.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            errors["url"] = ["url is the app's absolute http:// or https:// address (where daprd would call it), e.g. http://orders:8080."];
        }
        else if (outbound.Check(url) is { } refusal)
        {
            errors["url"] = [refusal];
        }
        var protocol = DaprAppDelivery.ParseProtocol(request?.Protocol);
        if (protocol is null)
        {
            errors["protocol"] = [$"protocol is http or grpc; got '{request?.Protocol}'."];
        }
        IReadOnlyList<AppSubscription>? subscriptions = null;
        if (request?.Subscriptions is { ValueKind: not JsonValueKind.Null } given)
        {
            try
            {
                subscriptions = AppSubscription.ParseHttp(given);
                var problems = subscriptions.SelectMany(Check).ToList();
                if (problems.Count > 0)
                {
                    errors["subscriptions"] = GroupsApi.FirstOf(problems);
                }
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException)
            {
                errors["subscriptions"] = [$"subscriptions is a /dapr/subscribe answer (a JSON array of {{pubsubname, topic, route | routes}}): {ex.Message}"];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: errors.Count == 1 ? errors.Values.First()[0] : null, title: "The app is not valid.");
        }
        if (delivery.ConfiguredApps.ContainsKey(appId))
        {
            return TypedResults.Problem($"App '{appId}' is declared in configuration (Delivery:Dapr:Apps); change it there.",
                statusCode: StatusCodes.Status409Conflict, title: "The app comes from configuration.");
        }
        foreach (var subscription in subscriptions ?? [])
        {
            if (access.Refusal(http, AclResourceType.Topic, subscription.Topic, AclOperation.Read) is { } refused)
            {
                return refused;
            }
        }
        var existed = await store.GetAsync(appId, cancellationToken) is not null;
        var app = new DaprApp(appId, url!, protocol!.Value, subscriptions, DaprApp.FromApi)
        {
            Principal = access.Authorizer.IsOpen || http.User.IsService() ? null : http.User.Name(),
        };
        await store.PutAsync(app, cancellationToken);
        delivery.Refresh();
        var view = AppView.Declared(app);
        return existed ? TypedResults.Ok(view) : TypedResults.Created($"/v1/apps/{appId}", view);
    }

    public static Ok<AppList> List(DaprAppDelivery delivery, AccessControl access, HttpContext http) =>
        TypedResults.Ok(new AppList([.. delivery.Views.Where(v => access.Allows(http.User, AclResourceType.Group, v.AppId, AclOperation.Describe))]));

    public static async Task<Results<Ok<AppView>, ProblemHttpResult>> Get(string appId, IDaprAppStore store, DaprAppDelivery delivery, CancellationToken cancellationToken)
    {
        // The store, not this instance's running apps, says whether the app exists: they lag a PUT or DELETE by a moment.
        var app = delivery.ConfiguredApps.GetValueOrDefault(appId) ?? await store.GetAsync(appId, cancellationToken);
        return app is null ? NotFound(appId) : TypedResults.Ok(delivery.View(app));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Delete(string appId, IDaprAppStore store, DaprAppDelivery delivery, CancellationToken cancellationToken)
    {
        if (delivery.ConfiguredApps.ContainsKey(appId))
        {
            return TypedResults.Problem($"App '{appId}' is declared in configuration (Delivery:Dapr:Apps); remove it there.",
                statusCode: StatusCodes.Status409Conflict, title: "The app comes from configuration.");
        }
        if (!await store.DeleteAsync(appId, cancellationToken))
        {
            return NotFound(appId);
        }
        delivery.Refresh();
        return TypedResults.NoContent();
    }

    private static IEnumerable<string> Check(AppSubscription subscription)
    {
        if (Names.Check(subscription.Topic) is { } topicError)
        {
            yield return topicError;
        }
        if (subscription.DeadLetterTopic is { } deadLetter && Names.Check(deadLetter, "dead-letter topic") is { } deadLetterError)
        {
            yield return deadLetterError;
        }
        if (subscription.DefaultPath is null && subscription.Rules.Count == 0)
        {
            yield return $"The subscription to '{subscription.Topic}' has no route: give route, or routes with rules or a default.";
        }
        foreach (var rule in subscription.Rules)
        {
            string? problem = null;
            try
            {
                EventRule.Parse(rule.Match);
            }
            catch (FormatException ex)
            {
                problem = ex.Message;
            }
            if (problem is not null)
            {
                yield return problem;
            }
            if (string.IsNullOrEmpty(rule.Path))
            {
                yield return $"A rule of the subscription to '{subscription.Topic}' has no path.";
            }
        }
    }

    private static ProblemHttpResult NotFound(string appId) =>
        TypedResults.Problem($"No Dapr app '{appId}' is declared here.", statusCode: StatusCodes.Status404NotFound, title: "The app does not exist.");
}
