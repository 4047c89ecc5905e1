using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Testing;

namespace AppHost.Tests.Observability;

/// <summary>What an OTLP collector and a Prometheus server see of the broker the AppHost runs.</summary>
public sealed class ObservabilityTests
{
    [Fact]
    public async Task OTLP_export_reaches_the_collector_with_the_delivery_span_a_child_of_the_produce_span()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        // Aspire points the services at its dashboard; here at a receiver of the test's own.
        await using var host = await BrokerApp.StartAsync(environment: new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        await Brokerctl.SucceedAsync(host, null, "topics", "create", "traced");
        await Brokerctl.SucceedAsync(host, null, "produce", "traced", "{\"id\":1}");
        var consumed = JsonDocument.Parse(await Brokerctl.SucceedAsync(host, null, "consume", "traced", "--group", "tracer", "--json", "--max", "1")).RootElement;
        // The consumer is handed the delivery span's context; the record's producer span is its parent.
        var delivered = consumed.GetProperty("headers").GetProperty("traceparent").GetString()!.Split('-');

        OtlpReceiver.ReceivedSpan? publish = null;
        OtlpReceiver.ReceivedSpan? deliver = null;
        var clock = Stopwatch.StartNew();
        while (publish is null || deliver is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60),
                $"spans so far: {string.Join("; ", receiver.Spans.Select(s => $"{s.Service} {s.Name} {s.SpanId}<-{s.ParentSpanId}"))}");
            await Task.Delay(200);
            deliver = receiver.Spans.FirstOrDefault(s => s.Service == "delivery" && s.Name == "deliver traced" && s.SpanId == delivered[2]);
            publish = deliver is null ? null : receiver.Spans.FirstOrDefault(s => s.Service == "ingest" && s.SpanId == deliver.ParentSpanId);
        }
        Assert.Equal("publish traced", publish.Name);
        Assert.Equal(4, publish.Kind); // SPAN_KIND_PRODUCER
        Assert.Equal(5, deliver.Kind); // SPAN_KIND_CONSUMER
        Assert.Equal(publish.TraceId, deliver.TraceId);
        Assert.Equal(delivered[1], deliver.TraceId);
    }

    [Fact]
    public async Task A_real_Prometheus_scrapes_every_services_metrics()
    {
        var prometheus = Build.OnPath("prometheus")
            ?? throw new InvalidOperationException("prometheus is not on PATH (apt-get install prometheus; test.sh installs it).");
        await using var host = await BrokerApp.StartAsync();
        await Brokerctl.SucceedAsync(host, null, "topics", "create", "scraped");
        await Brokerctl.SucceedAsync(host, null, "produce", "scraped", "{\"id\":1}");

        var folder = Path.Combine(Path.GetTempPath(), "prometheus-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        string[] services = ["storage", "ingest", "delivery", "schemaregistry"];
        var targets = string.Join(", ", services.Select(s => $"'{host.Http(s).Authority}'"));
        await File.WriteAllTextAsync(Path.Combine(folder, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: broker
                metrics_path: /metrics
                static_configs:
                  - targets: [{targets}]
            """);
        var port = LoopbackPort.Free();
        using var server = Process.Start(new ProcessStartInfo(prometheus,
        [
            $"--config.file={Path.Combine(folder, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(folder, "data")}",
            $"--web.listen-address=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}") };
            var clock = Stopwatch.StartNew();
            JsonElement active = default;
            while (true)
            {
                try
                {
                    var answer = await http.GetFromJsonAsync<JsonElement>("/api/v1/targets");
                    active = answer.GetProperty("data").GetProperty("activeTargets");
                    if (active.GetArrayLength() == services.Length && active.EnumerateArray().All(t => t.GetProperty("health").GetString() == "up"))
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Prometheus is still starting.
                }
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"targets: {active}");
                await Task.Delay(250);
            }
            // The broker's own instruments are among what it scraped.
            var series = await http.GetFromJsonAsync<JsonElement>("/api/v1/query?query=count%20by%20(job)(%7B__name__%3D~%22broker_.*%22%7D)");
            Assert.NotEmpty(series.GetProperty("data").GetProperty("result").EnumerateArray());
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            Directory.Delete(folder, recursive: true);
        }
    }
}
