using System.Diagnostics;
using System.Globalization;

namespace Broker.AppHost.Resources;

/// <summary>
/// One of the broker's services, run from its build output (<c>dotnet &lt;Project&gt;.dll</c> in its output folder, so
/// its appsettings.json applies) with the Aspire-style environment: Kestrel endpoints, <c>ConnectionStrings__*</c>,
/// <c>services__*</c>, <c>OTEL_*</c>. Healthy when <c>/health</c> answers Healthy.
/// </summary>
internal sealed class ServiceResource(string name, string project, string outputFolder, int httpPort, int grpcPort, HttpClient health) : Resource(name)
{
    public string Project { get; } = project;

    public int HttpPort { get; } = httpPort;

    /// <summary>0: no gRPC endpoint.</summary>
    public int GrpcPort { get; } = grpcPort;

    public string HttpUrl => $"http://localhost:{HttpPort.ToString(CultureInfo.InvariantCulture)}";

    public string GrpcUrl => $"http://localhost:{GrpcPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Its configuration, as environment variables.</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>More lines for the status table (the Dapr component's socket, say).</summary>
    public List<string> Notes { get; } = [];

    public override IReadOnlyList<string> Endpoints =>
        [$"rest {HttpUrl}", .. GrpcPort > 0 ? new[] { $"grpc {GrpcUrl}" } : [], .. Notes];

    public string DllPath => Path.Combine(outputFolder, Project + ".dll");

    public override ProcessStartInfo CreateStartInfo()
    {
        if (!File.Exists(DllPath))
        {
            throw new FileNotFoundException($"{Project} is not built at {DllPath}: run `dotnet build` (AppHost builds it with itself).");
        }
        var start = new ProcessStartInfo("dotnet", [DllPath]) { WorkingDirectory = outputFolder };
        start.Environment["Kestrel__Endpoints__Http__Url"] = HttpUrl;
        start.Environment["Kestrel__Endpoints__Http__Protocols"] = "Http1";
        if (GrpcPort > 0)
        {
            start.Environment["Kestrel__Endpoints__Grpc__Url"] = GrpcUrl;
            start.Environment["Kestrel__Endpoints__Grpc__Protocols"] = "Http2";
        }
        // One line per log entry, so each carries the service's prefix.
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        foreach (var (key, value) in Environment)
        {
            start.Environment[key] = value;
        }
        return start;
    }

    public override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await health.GetAsync($"{HttpUrl}/health", cancellationToken);
            return response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync(cancellationToken) == "Healthy";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
