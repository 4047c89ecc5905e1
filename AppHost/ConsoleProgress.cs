using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Broker.AppHost;

/// <summary>
/// One console line as each resource starts and as it becomes ready (with its endpoints): what is happening is visible
/// without the dashboard, also when the output goes to a file or a CI log (EventIds 9620-9629).
/// </summary>
internal static partial class ConsoleProgress
{
    public static void Report(IDistributedApplicationBuilder builder)
    {
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>((e, _) =>
        {
            Starting(Logger(e.Services), e.Resource.Name);
            return Task.CompletedTask;
        });
        builder.Eventing.Subscribe<ResourceReadyEvent>((e, _) =>
        {
            var endpoints = e.Resource.Annotations.OfType<EndpointAnnotation>()
                .Where(endpoint => endpoint.AllocatedEndpoint is not null)
                .Select(endpoint => $"{endpoint.Name} {endpoint.AllocatedEndpoint!.UriString}");
            Ready(Logger(e.Services), e.Resource.Name, string.Join(", ", endpoints) is { Length: > 0 } shown ? shown : "no endpoint");
            return Task.CompletedTask;
        });
    }

    private static ILogger Logger(IServiceProvider services) => services.GetRequiredService<ILoggerFactory>().CreateLogger("Broker.AppHost");

    [LoggerMessage(9620, LogLevel.Information, "{Resource}: starting")]
    private static partial void Starting(ILogger logger, string resource);

    [LoggerMessage(9621, LogLevel.Information, "{Resource}: ready ({Endpoints})")]
    private static partial void Ready(ILogger logger, string resource, string endpoints);
}
