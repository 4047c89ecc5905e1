using System.Diagnostics;
using System.Net.Http.Json;
using System.Threading.Channels;
using Broker.Contracts.Delivery;
using Broker.Contracts.Ingest;
using Google.Protobuf;
using Grpc.Core;

namespace Broker.LoadGen.EndToEnd;

/// <summary>
/// The broker: a producer on Ingest's gRPC produce stream (requests of --batch records, --concurrency in
/// flight; at a fixed rate, whatever is due each millisecond), and one consumer on Delivery's gRPC
/// subscribe stream (window --consumer-window, concurrent mode) that acks every record of each message it
/// receives in one acks message. Each run uses a fresh topic, so the consumer group starts at its start.
/// </summary>
public sealed class BrokerPubSub(
    HttpClient storageRest, ProduceService.ProduceServiceClient ingest, DeliveryService.DeliveryServiceClient delivery,
    LoadGenOptions options, Workload workload, CpuSampler cpu) : IPubSubPath
{
    public const string PathName = "broker-ingest-delivery";
    private static readonly ByteString[] s_keys = [.. Enumerable.Range(0, 1000).Select(k => ByteString.CopyFromUtf8($"key-{k}"))];
    private readonly List<string> _topics = [];
    private string _topic = "";

    public string Name => PathName;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _topic = $"{options.Topic}-{_topics.Count}";
        using var response = await storageRest.PutAsJsonAsync(new Uri($"/v1/topics/{_topic}", UriKind.Relative), new { partitions = options.Partitions }, cancellationToken);
        response.EnsureSuccessStatusCode();
        _topics.Add(_topic);
    }

    public Task<PubSubResult> RunMaxAsync(int records, CancellationToken cancellationToken) =>
        RunAsync(records, async (call, ct) =>
        {
            var window = new SemaphoreSlim(options.Concurrency);
            var acks = ReadAcksAsync(call, window, ct);
            for (var first = 0; first < records; first += options.Batch)
            {
                await window.WaitAsync(ct);
                await call.RequestStream.WriteAsync(Request(first, Math.Min(first + options.Batch, records)), ct);
            }
            await call.RequestStream.CompleteAsync();
            await acks;
        }, cancellationToken);

    public Task<PubSubResult> RunRateAsync(int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var records = (int)(rate * duration.TotalSeconds);
        return RunAsync(records, async (call, ct) =>
        {
            var acks = ReadAcksAsync(call, null, ct);
            var pacer = new Pacer(rate, records);
            var sent = 0;
            while (sent < records)
            {
                var due = pacer.Due;
                if (due > sent)
                {
                    await call.RequestStream.WriteAsync(Request(sent, due), ct);
                    sent = due;
                }
                await Pacer.TickAsync(ct);
            }
            await call.RequestStream.CompleteAsync();
            await acks;
        }, cancellationToken);
    }

    private ProduceRequest Request(int first, int end)
    {
        var request = new ProduceRequest { Topic = _topic, RequestId = (ulong)first };
        for (var i = first; i < end; i++)
        {
            request.Records.Add(new ProduceRecord { Key = s_keys[i % s_keys.Length], Value = UnsafeByteOperations.UnsafeWrap(LatencyTally.Stamp(workload.Value(i), i)) });
        }
        return request;
    }

    private static async Task ReadAcksAsync(AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse> call, SemaphoreSlim? window, CancellationToken cancellationToken)
    {
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            if (response.StatusCode != 0)
            {
                throw new InvalidOperationException($"Ingest refused request {response.RequestId}: {(StatusCode)response.StatusCode} {response.StatusMessage}");
            }
            window?.Release();
        }
    }

    private async Task<PubSubResult> RunAsync(
        int records, Func<AsyncDuplexStreamingCall<ProduceRequest, ProduceResponse>, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var tally = new LatencyTally(records);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var subscription = delivery.Subscribe(cancellationToken: stop.Token);
        var assigned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscription.RequestStream.WriteAsync(new SubscribeRequest
        {
            Subscribe = new Subscribe
            {
                Group = "loadgen",
                Topic = _topic,
                Window = options.ConsumerWindow,
                Start = StartPosition.Earliest,
                Mode = DeliveryMode.Concurrent,
            },
        }, cancellationToken);
        var consuming = ConsumeAsync(subscription, tally, assigned, stop.Token);
        await assigned.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);

        var start = await cpu.SampleAsync();
        using (var call = ingest.Produce(cancellationToken: cancellationToken))
        {
            await produce(call, cancellationToken);
        }
        await Task.WhenAny(tally.All, consuming).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        if (consuming.IsFaulted)
        {
            await consuming;
        }
        var end = await cpu.SampleAsync();
        // Dropping the subscription is enough: the run's topic is not used again.
        await stop.CancelAsync();
        try
        {
            await consuming;
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
        return new PubSubResult(tally.Distinct, Stopwatch.GetElapsedTime(start.Timestamp, tally.LastReceipt), CpuSample.Between(start, end),
            tally.Latencies, tally.Duplicates);
    }

    private async Task ConsumeAsync(
        AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse> subscription, LatencyTally tally, TaskCompletionSource assigned, CancellationToken cancellationToken)
    {
        // Acks go out from one writer, so receiving never waits for a write.
        var acks = Channel.CreateUnbounded<SubscribeRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writing = Task.Run(async () =>
        {
            await foreach (var request in acks.Reader.ReadAllAsync(cancellationToken))
            {
                await subscription.RequestStream.WriteAsync(request, cancellationToken);
            }
        }, cancellationToken);
        try
        {
            await foreach (var response in subscription.ResponseStream.ReadAllAsync(cancellationToken))
            {
                switch (response.KindCase)
                {
                    case SubscribeResponse.KindOneofCase.Assignment when response.Assignment.Partitions.Count == options.Partitions:
                        assigned.TrySetResult();
                        break;
                    case SubscribeResponse.KindOneofCase.AckError:
                        throw new InvalidOperationException($"Delivery refused an ack: {response.AckError.Message}");
                    case SubscribeResponse.KindOneofCase.Records:
                        var ack = new Acks();
                        foreach (var record in response.Records.Records_)
                        {
                            tally.Received(record.Value.Span);
                            ack.Ack.Add(record.DeliveryId);
                        }
                        acks.Writer.TryWrite(new SubscribeRequest { Acks = ack });
                        break;
                }
            }
        }
        finally
        {
            acks.Writer.TryComplete();
            try
            {
                await writing;
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var topic in _topics)
        {
            using var _ = await storageRest.DeleteAsync(new Uri($"/v1/topics/{topic}", UriKind.Relative));
        }
    }
}
