using System.Security.Claims;
using System.Threading.Channels;
using Broker.Contracts.Ingest;
using Broker.Ingest.Producing;
using Grpc.Core;
using Microsoft.Extensions.Options;
using BatchHeader = Broker.Contracts.Batches.RecordHeader;

namespace Broker.Ingest.Apis;

/// <summary>
/// The gRPC produce stream: requests are produced concurrently as they arrive, and answered in request
/// order. At most Ingest:MaxInFlightPerStream requests are in flight per stream; past that Ingest stops
/// reading the stream and HTTP/2 flow control holds the client back. A refused request gets its status in
/// its response (RESOURCE_EXHAUSTED with retry_after_ms under backpressure); the stream goes on.
/// </summary>
public sealed class ProduceGrpcService(Producer producer, ProduceGate gate, IOptions<IngestOptions> options, ILogger<ProduceGrpcService> logger)
    : ProduceService.ProduceServiceBase
{
    public override async Task Produce(IAsyncStreamReader<ProduceRequest> requestStream, IServerStreamWriter<ProduceResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var inFlight = Channel.CreateBounded<Task<ProduceResponse>>(new BoundedChannelOptions(options.Value.MaxInFlightPerStream)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        var writer = WriteResponsesAsync(inFlight.Reader, responseStream, cancellationToken);
        var user = context.GetHttpContext().User;
        try
        {
            await foreach (var request in requestStream.ReadAllAsync(cancellationToken))
            {
                // Admitted one after another, so each partition gets the stream's records in stream order;
                // confirmations then overlap freely.
                var response = await StartAsync(user, request, cancellationToken);
                await inFlight.Writer.WriteAsync(response, cancellationToken);
            }
        }
        finally
        {
            inFlight.Writer.TryComplete();
        }
        await writer;
    }

    private static async Task WriteResponsesAsync(ChannelReader<Task<ProduceResponse>> inFlight, IServerStreamWriter<ProduceResponse> responses, CancellationToken cancellationToken)
    {
        await foreach (var response in inFlight.ReadAllAsync(cancellationToken))
        {
            await responses.WriteAsync(await response, cancellationToken);
        }
    }

    private async ValueTask<Task<ProduceResponse>> StartAsync(ClaimsPrincipal user, ProduceRequest request, CancellationToken cancellationToken)
    {
        try
        {
            gate.Admit(user, request.Topic);
            var records = ToRecords(request);
            gate.Charge(user, records);
            var confirmed = await producer.StartAsync(request.Topic, records, Identity(request), "grpc", cancellationToken);
            return RespondAsync(request.RequestId, confirmed);
        }
        catch (ProduceException ex)
        {
            return Task.FromResult(Refusal(request.RequestId, ex));
        }
    }

    private async Task<ProduceResponse> RespondAsync(ulong requestId, Task<ProducedOffset[]> confirmed)
    {
        try
        {
            var response = new ProduceResponse { RequestId = requestId };
            foreach (var offset in await confirmed)
            {
                response.Offsets.Add(new RecordOffset { Partition = offset.Partition, Offset = offset.Offset });
            }
            return response;
        }
        catch (ProduceException ex)
        {
            return Refusal(requestId, ex);
        }
    }

    private ProduceResponse Refusal(ulong requestId, ProduceException ex)
    {
        IngestLog.Refused(logger, ex.Error.ToString(), ex.Message);
        return new ProduceResponse
        {
            RequestId = requestId,
            StatusCode = (int)(ex.Error switch
            {
                ProduceError.TopicNotFound => StatusCode.NotFound,
                ProduceError.Backpressure => StatusCode.ResourceExhausted,
                ProduceError.OutOfOrderSequence => StatusCode.FailedPrecondition,
                ProduceError.Unavailable => StatusCode.Unavailable,
                ProduceError.Forbidden => StatusCode.PermissionDenied,
                ProduceError.OverQuota => StatusCode.ResourceExhausted,
                _ => StatusCode.InvalidArgument,
            }),
            StatusMessage = ex.Message,
            RetryAfterMs = ex.RetryAfter is { } after ? (int)Math.Ceiling(after.TotalMilliseconds)
                : ex.Error is ProduceError.Backpressure or ProduceError.Unavailable ? options.Value.RetryAfterSeconds * 1000 : 0,
        };
    }

    private static ProducerIdentity? Identity(ProduceRequest request)
    {
        if (!request.HasProducerId)
        {
            return null;
        }
        if (!request.HasPartition || !request.HasBaseSequence)
        {
            throw new ProduceException(ProduceError.InvalidArgument,
                "An idempotent request (producer_id) needs partition and base_sequence: sequences count per partition.");
        }
        if (request.ProducerId < 0 || request.BaseSequence < 0)
        {
            throw new ProduceException(ProduceError.InvalidArgument, "producer_id and base_sequence are 0 or more.");
        }
        foreach (var record in request.Records)
        {
            if (record.HasPartition && record.Partition != request.Partition)
            {
                throw new ProduceException(ProduceError.InvalidArgument, "An idempotent request writes one partition; a record names another.");
            }
        }
        return new ProducerIdentity(request.ProducerId, request.BaseSequence);
    }

    private static OutgoingRecord[] ToRecords(ProduceRequest request)
    {
        var records = new OutgoingRecord[request.Records.Count];
        int? requestPartition = request.HasPartition ? request.Partition : null;
        for (var i = 0; i < records.Length; i++)
        {
            var r = request.Records[i];
            BatchHeader[] headers = [];
            if (r.Headers.Count > 0)
            {
                headers = new BatchHeader[r.Headers.Count];
                for (var h = 0; h < headers.Length; h++)
                {
                    headers[h] = new BatchHeader(r.Headers[h].Name, r.Headers[h].Value.Memory);
                }
            }
            records[i] = new OutgoingRecord(
                r.HasKey ? r.Key.Memory : (ReadOnlyMemory<byte>?)null, // typed: a bare null would become an empty key
                r.Value.Memory,
                headers,
                r.HasPartition ? r.Partition : requestPartition,
                r.HasTimestampMs ? r.TimestampMs : null);
        }
        return records;
    }
}
