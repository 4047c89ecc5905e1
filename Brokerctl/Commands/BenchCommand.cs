using System.ComponentModel;
using System.Diagnostics;
using Broker.Client.Producing;
using Broker.Ctl.Client;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class BenchSettings : BrokerSettings
{
    [CommandOption("--records <N>"), Description("Records to produce (default 100000)")]
    public int Records { get; init; } = 100_000;

    [CommandOption("--size <BYTES>"), Description("Value size (default 1024)")]
    public int Size { get; init; } = 1024;

    [CommandOption("--batch <N>"), Description("Records per produce request (default 100)")]
    public int Batch { get; init; } = 100;

    [CommandOption("--concurrency <N>"), Description("Requests in flight on the stream (default 16)")]
    public int Concurrency { get; init; } = 16;

    [CommandOption("--partitions <N>"), Description("Partitions of the bench topic (default 4)")]
    public int Partitions { get; init; } = 4;

    public override Spectre.Console.ValidationResult Validate() =>
        Records < 1 || Size < 0 || Batch < 1 || Concurrency < 1 || Partitions < 1
            ? Spectre.Console.ValidationResult.Error("--records, --batch, --concurrency and --partitions are at least 1; --size at least 0.")
            : base.Validate();
}

/// <summary>
/// bench: a quick check of a running broker: --records through Broker.Client's producer (Ingest's gRPC produce stream)
/// into a topic of its own (deleted after), records/s and per-record latency (produce to confirmation), and the
/// topic's end offsets checked against what was sent. The
/// full benchmarks, with baselines, are bench/*.sh.
/// </summary>
public sealed class BenchCommand : AsyncCommand<BenchSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BenchSettings settings, CancellationToken cancellationToken)
    {
        using var storage = settings.Connection.Http("Storage", settings.Storage);
        var topic = $"brokerctl-bench-{Guid.NewGuid().ToString("N")[..8]}";
        await storage.PutAsync($"v1/topics/{topic}", new { partitions = settings.Partitions, retentionMs = 3_600_000 }, cancellationToken);
        try
        {
            var value = new byte[settings.Size];
            byte[][] keys = [.. Enumerable.Range(0, 1000).Select(k => System.Text.Encoding.UTF8.GetBytes($"key-{k}"))];
            var latencies = new long[settings.Records];
            ProduceException? failure = null;
            var clock = Stopwatch.StartNew();
            // Broker.Client's producer, batching per partition: --batch records' worth of bytes a request, --concurrency
            // requests in flight, and no more records outstanding than that window holds.
            await using (var producer = new BrokerProducer<byte[], byte[]>(settings.Connection.ClientOptions(settings.Storage, settings.IngestGrpc), new ProducerOptions
            {
                BatchSize = settings.Batch * Math.Max(settings.Size, 1),
                MaxBatchRecords = Math.Min(settings.Batch, 10_000),
                MaxInFlight = settings.Concurrency,
                MaxInFlightPerPartition = Math.Min(settings.Concurrency, 5), // the most an idempotent producer may have
                BufferBytes = (long)settings.Concurrency * settings.Batch * (settings.Size + 32),
                DeliveryTimeout = TimeSpan.FromSeconds(60),
            }))
            {
                for (var i = 0; i < settings.Records && failure is null; i++)
                {
                    var index = i;
                    var message = new Message<byte[], byte[]> { Key = keys[i % keys.Length], Value = value };
                    while (true)
                    {
                        var sent = Stopwatch.GetTimestamp();
                        try
                        {
                            producer.Produce(topic, message, report =>
                            {
                                if (report.Error is { } error)
                                {
                                    Interlocked.CompareExchange(ref failure, error, null);
                                }
                                latencies[index] = Stopwatch.GetTimestamp() - sent;
                            });
                            break;
                        }
                        catch (ProduceException ex) when (ex.Error == ProduceError.QueueFull)
                        {
                            await Task.Delay(1, cancellationToken);
                        }
                    }
                }
                await producer.FlushAsync(cancellationToken);
            }
            if (failure is not null)
            {
                throw failure.Error switch
                {
                    ProduceError.Forbidden => Refusals.NotAllowed(failure.Message),
                    _ => new CtlException($"Ingest did not take a record: {failure.Message}"),
                };
            }
            clock.Stop();
            var described = await storage.GetAsync($"v1/topics/{topic}", cancellationToken);
            var stored = described.GetProperty("partitionOffsets").EnumerateArray().Sum(p => p.GetProperty("endOffset").GetInt64() - p.GetProperty("startOffset").GetInt64());
            if (stored != settings.Records)
            {
                throw new CtlException($"The topic holds {Output.Count(stored, "record")}; {Output.Number(settings.Records)} {(settings.Records == 1 ? "was" : "were")} sent.");
            }
            Array.Sort(latencies);
            double Ms(double q) => Math.Round(latencies[Math.Clamp((int)Math.Ceiling(q * latencies.Length) - 1, 0, latencies.Length - 1)] * 1000.0 / Stopwatch.Frequency, 2);
            var rate = Math.Round(settings.Records / clock.Elapsed.TotalSeconds);
            var result = new
            {
                records = settings.Records,
                recordBytes = settings.Size,
                batch = settings.Batch,
                concurrency = settings.Concurrency,
                recordsPerSecond = rate,
                megabytesPerSecond = Math.Round(rate * settings.Size / 1_000_000, 1),
                p50Ms = Ms(0.5),
                p99Ms = Ms(0.99),
                verified = true,
            };
            if (settings.Json)
            {
                Output.JsonLine(result);
            }
            else
            {
                Output.Table(["records", "records/s", "MB/s", "p50 ms", "p99 ms", "verified"],
                    [[Output.Number(result.records), Output.Number((long)rate), result.megabytesPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture),
                      result.p50Ms.ToString(System.Globalization.CultureInfo.InvariantCulture), result.p99Ms.ToString(System.Globalization.CultureInfo.InvariantCulture), "yes"]]);
            }
            return 0;
        }
        finally
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await storage.DeleteAsync($"v1/topics/{topic}", cleanup.Token);
            }
            catch (CtlException)
            {
            }
        }
    }
}
