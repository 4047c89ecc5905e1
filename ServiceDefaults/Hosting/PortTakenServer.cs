using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Broker.ServiceDefaults.Hosting;

/// <summary>
/// A service whose port is taken says so in one line, naming the address and the setting that moves it, and exits
/// with code 1. The line is logged (Critical, <see cref="HostingLog.PortTaken"/>) and written to stderr. Left to the
/// host, Kestrel's IOException (wrapping <see cref="AddressInUseException"/>) was logged with its stack trace, then
/// every background service's cancellation was logged as a fault as the host was disposed, and the process died of the
/// unhandled exception (SIGABRT), naming neither the service nor the setting. A service hosted in a process of another program (a test's in-process host) does not end that process: its
/// start throws an IOException with the same line instead. (WebApplicationFactory's UseKestrel registers Kestrel again,
/// over this: its hosts see Kestrel's own exception.)
/// </summary>
internal sealed class PortTakenServer(
    IServer inner, IConfiguration configuration, IHostEnvironment environment, IServiceProvider services, ILogger<PortTakenServer> logger)
    : IServer
{
    public IFeatureCollection Features => inner.Features;

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull
    {
        try
        {
            await inner.StartAsync(application, cancellationToken);
        }
        catch (IOException ex) when (IsAddressInUse(ex))
        {
            var service = ServiceName(environment.ApplicationName);
            var (address, settings) = ListenSettings.Explain(configuration, ex.Message);
            HostingLog.PortTaken(logger, service, address, settings);
            var line = $"{service} cannot listen on {address}: the port is taken. Move it with {settings}";
            if (!OwnsProcess(environment))
            {
                throw new IOException(line, ex);
            }
            // The loggers write on threads of their own: disposing them writes what they hold before the process ends.
            foreach (var provider in services.GetServices<ILoggerProvider>())
            {
                provider.Dispose();
            }
            await Console.Error.WriteLineAsync(line);
            await Console.Error.FlushAsync(cancellationToken);
            Environment.Exit(1);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

    public void Dispose() => inner.Dispose();

    private static bool IsAddressInUse(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AddressInUseException or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>"Broker.Storage" is Storage, "SchemaRegistry" stays.</summary>
    public static string ServiceName(string applicationName) =>
        applicationName.StartsWith("Broker.", StringComparison.Ordinal) ? applicationName["Broker.".Length..] : applicationName;

    /// <summary>
    /// Wraps the server the web host registered (Kestrel), when there is one: a worker has none, and a test that puts
    /// its own server in (TestServer) registers it after this.
    /// </summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(IServer) && !d.IsKeyedService);
        if (registered?.ImplementationType is not { } server)
        {
            return;
        }
        services.AddSingleton(server);
        services.AddSingleton<IServer>(sp => ActivatorUtilities.CreateInstance<PortTakenServer>(sp, (IServer)sp.GetRequiredService(server)));
    }

    /// <summary>The service is this process (its own Program, not a test's host of it).</summary>
    private static bool OwnsProcess(IHostEnvironment environment) =>
        string.Equals(Assembly.GetEntryAssembly()?.GetName().Name, environment.ApplicationName, StringComparison.Ordinal);
}
