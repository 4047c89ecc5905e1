using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Broker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Broker.Security.Tests.Startup;

/// <summary>
/// A service whose port is taken, as a new user meets it: the service's build output run by dotnet from its own folder
/// (its appsettings.json applies), the port held by a TcpListener. One line names the address and the setting that
/// moves it, on stderr and as the Critical log 9101; no stack trace; exit code 1.
/// </summary>
public sealed class PortTakenTests
{
    public static TheoryData<string, string, string> Services => new()
    {
        // project (its folder under artifacts/bin), the name the line gives it, the endpoint taken
        { "Broker.Storage", "Storage", "Http" },
        { "Broker.Storage", "Storage", "Grpc" },
        { "Broker.Ingest", "Ingest", "Http" },
        { "Broker.Ingest", "Ingest", "Grpc" },
        { "Broker.Delivery", "Delivery", "Http" },
        { "Broker.Delivery", "Delivery", "Grpc" },
        { "SchemaRegistry", "SchemaRegistry", "Http" },
        // No endpoint in its appsettings.json (it serves daprd on a Unix socket); the AppHost gives it Http.
        { "Broker.DaprComponent", "DaprComponent", "Http" },
    };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_taken_port_is_one_line_naming_it_and_its_setting_and_exit_code_1(string project, string service, string endpoint)
    {
        using var taken = Take();
        var url = $"http://localhost:{Port(taken)}";
        var environment = new Dictionary<string, string>
        {
            // The endpoint under test on the taken port, every other one the service has on a free one (not 5100 and the like).
            [$"Kestrel__Endpoints__{endpoint}__Url"] = url,
        };
        if (project != "SchemaRegistry" && project != "Broker.DaprComponent")
        {
            var other = endpoint == "Http" ? "Grpc" : "Http";
            environment[$"Kestrel__Endpoints__{other}__Url"] = $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}";
        }

        var result = await RunAsync(project, environment, []);

        AssertRefused(result,
            $"{service} cannot listen on {url}: the port is taken. Move it with Kestrel:Endpoints:{endpoint}:Url "
            + $"(Kestrel__Endpoints__{endpoint}__Url=http://localhost:<port>, or --Kestrel:Endpoints:{endpoint}:Url=http://localhost:<port>); "
            + "ASPNETCORE_URLS and --urls are ignored while Kestrel:Endpoints are set.");
    }

    [Fact]
    public async Task Without_Kestrel_endpoints_the_line_names_urls()
    {
        // Run from a folder without the service's appsettings.json: then --urls is what places it.
        using var taken = Take();
        var url = $"http://127.0.0.1:{Port(taken)}";

        var result = await RunAsync("Broker.Storage", new Dictionary<string, string>(), ["--urls", url], workingDirectory: Path.GetTempPath());

        AssertRefused(result, $"Storage cannot listen on {url}: the port is taken. Move it with ASPNETCORE_URLS / --urls (http://127.0.0.1:<port>), or Kestrel:Endpoints:Http:Url.");
    }

    [Fact]
    public async Task Hosted_in_a_test_process_the_start_throws_the_line_and_that_process_lives_on()
    {
        // A host built with the service defaults, as a service's Program builds it, in this test process. (A
        // WebApplicationFactory's UseKestrel registers Kestrel again over the service defaults' wrapper: its start
        // throws Kestrel's own exception.)
        using var taken = Take();
        var url = $"http://127.0.0.1:{Port(taken)}";
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "Broker.Storage", ContentRootPath = Path.GetTempPath() });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection([new("Kestrel:Endpoints:Http:Url", url)]);
        builder.AddServiceDefaults();
        await using var app = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var refused = await Assert.ThrowsAsync<IOException>(() => app.StartAsync(timeout.Token));

        Assert.Equal($"Storage cannot listen on {url}: the port is taken. Move it with Kestrel:Endpoints:Http:Url "
            + "(Kestrel__Endpoints__Http__Url=http://127.0.0.1:<port>, or --Kestrel:Endpoints:Http:Url=http://127.0.0.1:<port>); "
            + "ASPNETCORE_URLS and --urls are ignored while Kestrel:Endpoints are set.", refused.Message);
    }

    private static void AssertRefused(ServiceResult result, string line)
    {
        Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}, not 1. {result}");
        Assert.Equal(line, result.Error.TrimEnd());
        Assert.Contains($"crit: Broker.ServiceDefaults.Hosting.PortTakenServer[9101]{Environment.NewLine}      {line}", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output + result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Output + result.Error, StringComparison.Ordinal);
    }

    /// <summary>A port held the way another program holds it: listening on 127.0.0.1.</summary>
    private static TcpListener Take()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static string Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

    private sealed record ServiceResult(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"stdout: {Output}{Environment.NewLine}stderr: {Error}";
    }

    /// <summary>The service's build output under dotnet, from its own folder unless told otherwise; none of the caller's Kestrel or URL settings.</summary>
    private static async Task<ServiceResult> RunAsync(string project, Dictionary<string, string> environment, string[] arguments, string? workingDirectory = null)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var folder = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", project, configuration));
        var dll = Path.Combine(folder, project + ".dll");
        Assert.True(File.Exists(dll), $"{project} is not built at {dll}.");
        var sockets = Directory.CreateTempSubdirectory("port-taken-");
        var start = new ProcessStartInfo(DotnetPath(), [dll, .. arguments])
        {
            WorkingDirectory = workingDirectory ?? folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("Kestrel__", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
            || k is "ASPNETCORE_URLS" or "DOTNET_URLS" or "ASPNETCORE_HTTP_PORTS" or "ASPNETCORE_HTTPS_PORTS").ToList())
        {
            start.Environment.Remove(key);
        }
        // The Dapr component's socket in a folder of this test's own.
        start.Environment["DaprComponent__SocketsFolder"] = sockets.FullName;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{project} did not exit in 60 s with its port taken. stdout: {await output} stderr: {await error}");
            }
            return new ServiceResult(process.ExitCode, await output, await error);
        }
        finally
        {
            sockets.Delete(recursive: true);
        }
    }

    private static string DotnetPath() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
}
