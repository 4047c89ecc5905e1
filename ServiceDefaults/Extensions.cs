using System.Text.Json.Serialization;
using Broker.ServiceDefaults.Hosting;
using Broker.ServiceDefaults.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every broker service shares: OpenTelemetry (traces, metrics, logs; OTLP when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set, Prometheus at /metrics), health at /health and /alive,
/// service discovery from services__* configuration, the standard HTTP resilience handler, authentication and ACLs,
/// and TLS trust for every client (the "Tls" settings).
/// Follows the Aspire ServiceDefaults conventions so an Aspire AppHost can drive the services unchanged.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string MetricsEndpointPath = "/metrics";

    /// <summary>Our own ActivitySources and Meters all start with this, so one wildcard registers them.</summary>
    public const string BrokerTelemetryPrefix = "Broker.*";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.AddBrokerSecurity();
        builder.AddBrokerTls();
        // A taken port is one line naming it and the setting that moves it, then exit code 1.
        PortTakenServer.Decorate(builder.Services);

        // Bad requests (malformed JSON, wrong types) answer problem details that say what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        // A number is a JSON number: "12" for a count is refused as the wrong type, as true or [] are (the web
        // defaults would read it as 12).
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Status = bad.StatusCode;
                context.ProblemDetails.Title = "The request is not valid.";
                context.ProblemDetails.Detail = bad.InnerException is { } inner ? $"{bad.Message} {inner.Message}" : bad.Message;
            }
            else if (context.ProblemDetails.Detail is null)
            {
                // The framework's own refusals (no route, wrong method, a body too large or not JSON) say what was wrong too.
                context.ProblemDetails.Detail = FrameworkRefusals.Explain(context.HttpContext, context.ProblemDetails.Status);
            }
        });

        // Socket transport knobs (receive-buffer behaviour, inline scheduling, IO queues) from "Kestrel:Transport".
        builder.Services.Configure<SocketTransportOptions>(builder.Configuration.GetSection("Kestrel:Transport"));

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME (set by Aspire) wins; otherwise the project's name, not "unknown_service".
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(builder.Environment.ApplicationName);
                }
            })
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(BrokerTelemetryPrefix)
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(BrokerTelemetryPrefix)
                .AddAspNetCoreInstrumentation(options =>
                    // Probes and scrapes would drown the traces that matter.
                    options.Filter = context => !IsInfrastructurePath(context.Request.Path))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            // "live" answers whether the process should be restarted, not whether its dependencies are up.
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// Problem-details error handling (unless the service writes errors its own way, as the schema registry
    /// writes Confluent's), /health (ready: every check), /alive (live checks only) and the Prometheus
    /// /metrics scrape.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, bool problemDetails = true)
    {
        if (problemDetails)
        {
            app.UseExceptionHandler(new ExceptionHandlerOptions
            {
                StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
                // A client's malformed request is not a server error worth an error log.
                SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException,
            });
            app.UseStatusCodePages();
        }
        app.UseBrokerSecurity();
        // Probes need no credential; the scrape needs one only when Auth:ProtectMetrics says so.
        app.MapHealthChecks(HealthEndpointPath).AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") }).AllowAnonymous();
        var metrics = app.MapPrometheusScrapingEndpoint(MetricsEndpointPath);
        if (!app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.ProtectMetrics)
        {
            metrics.AllowAnonymous();
        }
        return app;
    }

    /// <summary>/health, /alive and /metrics: the paths every service serves for its operators, not its API.</summary>
    public static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath)
        || path.StartsWithSegments(AlivenessEndpointPath)
        || path.StartsWithSegments(MetricsEndpointPath);
}
