using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Broker.Testing;

namespace Broker.Dapr.Tests.Apps;

/// <summary>
/// The Dapr test app (tests/Broker.Dapr.TestApp, plain Dapr.AspNetCore) as its own process on a free loopback
/// port, its DaprClient pointed at Ingest through DAPR_GRPC_ENDPOINT, as a sidecarless app would run.
/// </summary>
public sealed class TestAppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private TestAppProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        Http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Url { get; }

    public HttpClient Http { get; }

    /// <summary>What the app wrote, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<TestAppProcess> StartAsync(Uri daprGrpcEndpoint)
    {
        // The app's build output sits next to the tests' (artifacts/bin/<project>/<configuration>/).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Broker.Dapr.TestApp", configuration, "Broker.Dapr.TestApp.dll"));
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The Dapr test app is not built at {dll}.");
        }
        var url = new Uri($"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}");
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", url.ToString()])
        {
            // Its own folder, not the tests' one: that holds an appsettings.json copied from whichever service built last,
            // and Ingest's or Delivery's Kestrel:Endpoints there would override --urls (the app then listens on 5200 or 5300).
            WorkingDirectory = Path.GetDirectoryName(dll),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["DAPR_GRPC_ENDPOINT"] = daprGrpcEndpoint.ToString().TrimEnd('/'),
                ["ASPNETCORE_ENVIRONMENT"] = "Development",
                ["Logging__LogLevel__Default"] = "Warning",
            },
        };
        // Nor endpoints meant for another host from the test run's own environment.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("Kestrel__", StringComparison.OrdinalIgnoreCase)
            || k is "ASPNETCORE_URLS" or "DOTNET_URLS" or "ASPNETCORE_HTTP_PORTS" or "ASPNETCORE_HTTPS_PORTS").ToList())
        {
            start.Environment.Remove(key);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var app = new TestAppProcess(process, url);
        process.OutputDataReceived += (_, e) => app.Append(e.Data);
        process.ErrorDataReceived += (_, e) => app.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The Dapr test app exited with {process.ExitCode}: {app.Output}");
            }
            try
            {
                using var response = await app.Http.GetAsync("/dapr/subscribe");
                if (response.IsSuccessStatusCode)
                {
                    return app;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                await app.DisposeAsync();
                throw new TimeoutException($"The Dapr test app did not come up: {app.Output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>How many times each order id reached the handler.</summary>
    public async Task<Dictionary<int, int>> ReceivedAsync(string handler) =>
        (await Http.GetFromJsonAsync<Dictionary<int, int>>($"/received/{handler}"))!;

    public async Task<int[]> BatchesAsync(string handler) => (await Http.GetFromJsonAsync<int[]>($"/batches/{handler}"))!;

    /// <summary>Has the app publish the orders with DaprClient.PublishEventAsync, one call each.</summary>
    public async Task PublishAsync(string topic, params (int Id, int Quantity)[] orders)
    {
        using var response = await Http.PostAsJsonAsync($"/publish/{topic}", orders.Select(o => new { id = o.Id, quantity = o.Quantity }));
        Assert.True(response.IsSuccessStatusCode, $"publish answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()} {Output}");
    }

    /// <summary>Has the app publish the orders with one DaprClient.BulkPublishEventAsync.</summary>
    public async Task BulkPublishAsync(string topic, params (int Id, int Quantity)[] orders)
    {
        using var response = await Http.PostAsJsonAsync($"/publish-bulk/{topic}", orders.Select(o => new { id = o.Id, quantity = o.Quantity }));
        Assert.True(response.IsSuccessStatusCode, $"bulk publish answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()} {Output}");
        Assert.Contains("\"failed\":0", await response.Content.ReadAsStringAsync());
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
