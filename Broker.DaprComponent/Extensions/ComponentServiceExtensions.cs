using Broker.DaprComponent;
using Broker.DaprComponent.Component;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class ComponentServiceExtensions
{
    /// <summary>
    /// The component's services, and a Kestrel listener (HTTP/2 without TLS) on the Unix socket daprd discovers:
    /// <c>{DaprComponent:SocketsFolder}/{SocketName}{SocketExtension}</c>. A socket file left by an earlier run is removed first.
    /// </summary>
    public static IHostApplicationBuilder AddDaprComponentServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ComponentOptions>().BindConfiguration(ComponentOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ComponentOptions>>().Value);
        builder.Services.AddSingleton<ComponentInstances>();
        builder.Services.AddGrpc();
        builder.Services.AddGrpcReflection();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ComponentOptions>>((kestrel, options) =>
        {
            var path = options.Value.SocketPath;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Delete(path);
            kestrel.ListenUnixSocket(path, listen => listen.Protocols = HttpProtocols.Http2);
        });
        return builder;
    }

    /// <summary>The PubSub service and gRPC reflection (v1alpha, what daprd's discovery asks), and the socket opened to the sidecar's user (mode 0666).</summary>
    public static WebApplication MapDaprComponent(this WebApplication app)
    {
        // daprd sends no credential to a pluggable component: the socket is reached only through the file system, which guards it.
        app.MapGrpcService<PubSubComponent>().RequireAuthorization(SecurityExtensions.LocalSocketPolicy);
        app.MapGrpcReflectionService().RequireAuthorization(SecurityExtensions.LocalSocketPolicy);
        var options = app.Services.GetRequiredService<ComponentOptions>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(options.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
                    | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
            }
            ComponentLog.Listening(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Broker.DaprComponent"), options.SocketPath, options.SocketName.ToLowerInvariant());
        });
        app.Lifetime.ApplicationStopped.Register(() => File.Delete(options.SocketPath));
        return app;
    }
}
