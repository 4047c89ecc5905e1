using System.ComponentModel;
using System.Diagnostics;
using Broker.Contracts.Ingest;
using Broker.Ctl.Client;
using Google.Protobuf;
using Grpc.Core;
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
/// bench: a quick check of a running broker: --records through Ingest's gRPC produce stream into a topic of its own
/// (deleted after), records/s and request latency, and the topic's end offsets checked against what was sent. The
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
            var value = UnsafeByteOperations.UnsafeWrap(new byte[settings.Size]);
            using var channel = settings.Connection.Grpc("Ingest", settings.IngestGrpc);
            var client = new ProduceService.ProduceServiceClient(channel);
            var requests = (settings.Records + settings.Batch - 1) / settings.Batch;
            var latencies = new long[requests];
            var sentAt = new long[requests];
            using var window = new SemaphoreSlim(settings.Concurrency);
            var clock = Stopwatch.StartNew();
            try
            {
                using var call = client.Produce(cancellationToken: cancellationToken);
                // A refused request ends the reader; the writer then stops too, instead of waiting for a window that never opens.
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var reading = Task.Run(async () =>
                {
                    try
                    {
                        await ReadAnswersAsync();
                    }
                    catch
                    {
                        await stop.CancelAsync();
                        throw;
                    }
                }, cancellationToken);
                async Task ReadAnswersAsync()
                {
                    for (var answered = 0; answered < requests; answered++)
                    {
                        if (!await call.ResponseStream.MoveNext(cancellationToken))
                        {
                            throw new CtlException("Ingest ended the produce stream early.");
                        }
                        var response = call.ResponseStream.Current;
                        if (response.StatusCode != 0)
                        {
                            throw Refusals.FromGrpc((StatusCode)response.StatusCode, response.StatusMessage,
                                () => new CtlException($"Ingest refused a request: {(StatusCode)response.StatusCode} {response.StatusMessage}"));
                        }
                        latencies[response.RequestId] = Stopwatch.GetTimestamp() - sentAt[response.RequestId];
                        window.Release();
                    }
                }
                try
                {
                    for (var r = 0; r < requests; r++)
                    {
                        await window.WaitAsync(stop.Token);
                        var request = new ProduceRequest { RequestId = (ulong)r, Topic = topic };
                        for (var i = r * settings.Batch; i < Math.Min(settings.Records, (r + 1) * settings.Batch); i++)
                        {
                            request.Records.Add(new ProduceRecord { Key = ByteString.CopyFromUtf8($"key-{i % 1000}"), Value = value });
                        }
                        sentAt[r] = Stopwatch.GetTimestamp();
                        await call.RequestStream.WriteAsync(request, stop.Token);
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or RpcException && stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // The reader failed: its exception says why, below.
                }
                await reading;
                await call.RequestStream.CompleteAsync();
            }
            catch (RpcException ex)
            {
                throw Refusals.FromGrpc(ex.StatusCode, ex.Status.Detail,
                    () => new CtlException($"Cannot produce to Ingest at {settings.IngestGrpc}: {ex.Status.StatusCode} {ex.Status.Detail}", ex.StatusCode == StatusCode.Unavailable ? 3 : 1));
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
