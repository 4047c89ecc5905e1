using System.Text;
using Broker.Contracts.Dapr;
using Broker.Contracts.Dapr.Components;
using Broker.Contracts.Delivery;
using Grpc.Core;

namespace Broker.DaprComponent.Component;

/// <summary>
/// One PullMessages stream: a Delivery subscription (group = the instance's consumerID, the topic made on demand),
/// each delivered record sent to daprd with its delivery id as the message id, and daprd's acks sent back (an
/// ack_error as a nack). The stream to daprd is never ended here, since daprd does not reconnect: a broken
/// Delivery stream is opened again with backoff, and what it had in flight is redelivered by the broker.
/// Unacked messages when daprd ends the stream are redelivered too (the Delivery subscription leaves).
/// </summary>
internal sealed class Subscription(
    ComponentInstance instance, Topic topic, IAsyncStreamReader<PullMessagesRequest> requests, IServerStreamWriter<PullMessagesResponse> responses, ILogger logger) : IDisposable
{
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _toDelivery = new(1, 1);
    private AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse>? _call;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var acking = ForwardAcksAsync(stop);
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await DeliverAsync(stop.Token);
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
            {
                ComponentLog.SubscriptionBroken(logger, instance.Name, topic.Name, backoff.TotalMilliseconds, ex.Message);
                try
                {
                    await Task.Delay(backoff, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(s_maxBackoff.Ticks, backoff.Ticks * 2));
            }
        }
        await acking;
    }

    private async Task DeliverAsync(CancellationToken cancellationToken)
    {
        using var call = instance.Delivery.Subscribe(cancellationToken: cancellationToken);
        await SendAsync(call, new SubscribeRequest
        {
            Subscribe = new Subscribe
            {
                Group = instance.ConsumerId,
                Topic = topic.Name,
                Window = instance.Window,
                Mode = DeliveryMode.Concurrent,
                Start = ComponentInstance.StartOf(topic.Metadata, instance.Start),
                ConsumerName = $"dapr/{instance.Name}",
                CreateTopic = true,
            },
        });
        Volatile.Write(ref _call, call);
        try
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                switch (response.KindCase)
                {
                    case SubscribeResponse.KindOneofCase.Records:
                        foreach (var record in response.Records.Records_)
                        {
                            await instance.WhenRunningAsync(cancellationToken);
                            await responses.WriteAsync(ToDapr(record), cancellationToken);
                        }
                        break;
                    case SubscribeResponse.KindOneofCase.AckError:
                        ComponentLog.AckRefused(logger, instance.Name, topic.Name, response.AckError.DeliveryId, response.AckError.Message);
                        break;
                }
            }
        }
        finally
        {
            Interlocked.CompareExchange(ref _call, null, call);
        }
        throw new InvalidOperationException("Delivery ended the subscription stream.");
    }

    /// <summary>daprd's acks and ack errors, to whichever Delivery stream is open; stops everything when daprd ends its side.</summary>
    private async Task ForwardAcksAsync(CancellationTokenSource stop)
    {
        try
        {
            while (await requests.MoveNext(stop.Token))
            {
                var request = requests.Current;
                if (request.AckMessageId.Length == 0 || Volatile.Read(ref _call) is not { } call)
                {
                    continue; // nothing to ack, or the stream it came from broke: the broker redelivers the record
                }
                var acks = new Acks();
                if (request.AckError is { } error)
                {
                    acks.Nack.Add(new Nack { DeliveryId = request.AckMessageId, Error = error.Message });
                }
                else
                {
                    acks.Ack.Add(request.AckMessageId);
                }
                try
                {
                    await SendAsync(call, new SubscribeRequest { Acks = acks });
                }
                catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
                {
                    // The Delivery stream broke under the ack: the record comes again on the next one.
                }
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
        {
            ComponentLog.StreamEnded(logger, instance.Name, topic.Name, ex.Message);
        }
        finally
        {
            await stop.CancelAsync();
        }
    }

    private async Task SendAsync(AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse> call, SubscribeRequest request)
    {
        await _toDelivery.WaitAsync();
        try
        {
            await call.RequestStream.WriteAsync(request);
        }
        finally
        {
            _toDelivery.Release();
        }
    }

    /// <summary>The record as daprd wants it: the CloudEvent as published (or one made around a record produced without Dapr), the delivery id as its id.</summary>
    private PullMessagesResponse ToDapr(DeliveredRecord record)
    {
        var traceParent = record.Headers.FirstOrDefault(h => h.Name == Broker.Contracts.Batches.RecordHeaderNames.TraceParent)?.Value.ToStringUtf8();
        var envelope = CloudEventEnvelope.AsEnvelope(record.Value.Memory, topic.Name, instance.Name, "broker",
            DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampMs), traceParent);
        var response = new PullMessagesResponse
        {
            Data = envelope.Span.SequenceEqual(record.Value.Span) ? record.Value : Google.Protobuf.ByteString.CopyFrom(envelope.Span),
            TopicName = topic.Name,
            Id = record.DeliveryId,
        };
        response.Metadata["partition"] = record.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Metadata["offset"] = record.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Metadata["attempt"] = record.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (record.HasKey)
        {
            response.Metadata["partitionKey"] = Encoding.UTF8.GetString(record.Key.Span);
        }
        return response;
    }

    public void Dispose() => _toDelivery.Dispose();
}
