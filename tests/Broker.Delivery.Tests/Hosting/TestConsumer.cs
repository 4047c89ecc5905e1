using System.Collections.Concurrent;
using Broker.Contracts.Delivery;
using Grpc.Core;

namespace Broker.Delivery.Tests.Hosting;

/// <summary>What a test consumer decides for a record: ack it, nack it (with an error), or leave it unanswered.</summary>
public enum Verdict
{
    Ack,
    Nack,
    Ignore,
}

/// <summary>One delivery as the consumer saw it.</summary>
public sealed record Received(string Consumer, int Partition, long Offset, int Attempt, string DeliveryId, string Value, DeliveredRecord Record, DateTimeOffset At);

/// <summary>
/// A consumer over Delivery's gRPC stream, as an application would write one: subscribes, answers each
/// record with <see cref="Decide"/>, remembers everything it saw. <see cref="Kill"/> drops the stream without
/// answering what is in flight, as a crashed consumer would.
/// </summary>
public sealed class TestConsumer : IAsyncDisposable
{
    private readonly CancellationTokenSource _life;
    private readonly AsyncDuplexStreamingCall<SubscribeRequest, SubscribeResponse> _call;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Task _reading;

    private TestConsumer(string name, DeliveryService.DeliveryServiceClient client, Subscribe subscribe, Func<DeliveredRecord, Verdict> decide, CancellationToken cancellationToken)
    {
        Name = name;
        Decide = decide;
        _life = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _call = client.Subscribe(cancellationToken: _life.Token);
        _reading = Task.Run(() => ReadAsync(subscribe), CancellationToken.None);
    }

    public string Name { get; }
    public Func<DeliveredRecord, Verdict> Decide { get; set; }
    public ConcurrentQueue<Received> Deliveries { get; } = new();
    public ConcurrentQueue<AckError> AckErrors { get; } = new();

    /// <summary>The partitions of the last assignment message.</summary>
    public IReadOnlyList<int> Partitions { get; private set; } = [];

    public string? MemberId { get; private set; }

    /// <summary>How the stream ended: null while it runs or when it ended cleanly.</summary>
    public Exception? Ended { get; private set; }

    public Task Reading => _reading;

    public static async Task<TestConsumer> StartAsync(
        string name, DeliveryService.DeliveryServiceClient client, Subscribe subscribe, Func<DeliveredRecord, Verdict>? decide = null,
        CancellationToken cancellationToken = default)
    {
        var consumer = new TestConsumer(name, client, subscribe, decide ?? (_ => Verdict.Ack), cancellationToken);
        await Task.Yield();
        return consumer;
    }

    private async Task ReadAsync(Subscribe subscribe)
    {
        try
        {
            await WriteAsync(new SubscribeRequest { Subscribe = subscribe });
            while (await _call.ResponseStream.MoveNext(_life.Token))
            {
                var response = _call.ResponseStream.Current;
                switch (response.KindCase)
                {
                    case SubscribeResponse.KindOneofCase.Assignment:
                        MemberId = response.Assignment.MemberId;
                        Partitions = [.. response.Assignment.Partitions];
                        break;
                    case SubscribeResponse.KindOneofCase.AckError:
                        AckErrors.Enqueue(response.AckError);
                        break;
                    case SubscribeResponse.KindOneofCase.Records:
                        var acks = new Acks();
                        foreach (var record in response.Records.Records_)
                        {
                            Deliveries.Enqueue(new Received(Name, record.Partition, record.Offset, record.Attempt, record.DeliveryId,
                                record.Value.ToStringUtf8(), record, DateTimeOffset.UtcNow));
                            switch (Decide(record))
                            {
                                case Verdict.Ack:
                                    acks.Ack.Add(record.DeliveryId);
                                    break;
                                case Verdict.Nack:
                                    acks.Nack.Add(new Nack { DeliveryId = record.DeliveryId, Error = $"test refused offset {record.Offset}" });
                                    break;
                            }
                        }
                        if (acks.Ack.Count + acks.Nack.Count > 0)
                        {
                            await WriteAsync(new SubscribeRequest { Acks = acks });
                        }
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            Ended = ex;
        }
    }

    public async Task WriteAsync(SubscribeRequest request)
    {
        await _writeLock.WaitAsync(_life.Token);
        try
        {
            await _call.RequestStream.WriteAsync(request, _life.Token);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task AckAsync(params string[] deliveryIds)
    {
        var acks = new Acks();
        acks.Ack.AddRange(deliveryIds);
        return WriteAsync(new SubscribeRequest { Acks = acks });
    }

    /// <summary>Drops the stream at once, answering nothing that is in flight.</summary>
    public void Kill() => _life.Cancel();

    /// <summary>Ends the stream cleanly and waits for the service to close it.</summary>
    public async Task StopAsync()
    {
        try
        {
            await _writeLock.WaitAsync(_life.Token);
            try
            {
                await _call.RequestStream.CompleteAsync();
            }
            finally
            {
                _writeLock.Release();
            }
            await _reading.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException or TimeoutException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _life.CancelAsync();
        try
        {
            await _reading;
        }
        catch (OperationCanceledException)
        {
        }
        _call.Dispose();
        _life.Dispose();
        _writeLock.Dispose();
    }
}
