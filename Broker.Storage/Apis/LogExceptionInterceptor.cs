using Broker.Storage.Log;
using Grpc.Core;
using Grpc.Core.Interceptors;
using StackExchange.Redis;

namespace Broker.Storage.Apis;

/// <summary>Turns the log's refusals and Redis outages into gRPC statuses with a message, in one place.</summary>
public sealed class LogExceptionInterceptor(ILogger<LogExceptionInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ToStatus(ex, context) is { } refusal)
        {
            throw refusal;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (ToStatus(ex, context) is { } refusal)
        {
            throw refusal;
        }
    }

    private RpcException? ToStatus(Exception exception, ServerCallContext context) =>
        StatusOf(exception, context.Method, logger) is { } status ? new RpcException(status) : null;

    /// <summary>The status a refusal or a Redis outage answers (logged); null for anything else (a bug: gRPC's own handling).</summary>
    public static Status? StatusOf(Exception exception, string operation, ILogger logger)
    {
        switch (exception)
        {
            case LogException ex:
                var status = ex.Error switch
                {
                    LogError.TopicNotFound or LogError.PartitionNotFound => StatusCode.NotFound,
                    LogError.OutOfOrderSequence => StatusCode.FailedPrecondition,
                    LogError.OffsetOutOfRange => StatusCode.OutOfRange,
                    LogError.HotTierFull or LogError.Busy => StatusCode.ResourceExhausted,
                    // Retriable as a Redis outage is: Ingest and the client retry, and the producer's sequence makes it safe.
                    LogError.NotEnoughReplicas => StatusCode.Unavailable,
                    // Not RESOURCE_EXHAUSTED: callers read that as "back off and retry", but only deleting topics makes room.
                    LogError.LimitReached => StatusCode.InvalidArgument,
                    LogError.TopicChanged => StatusCode.Aborted,
                    _ => StatusCode.InvalidArgument,
                };
                StorageLog.Refused(logger, operation, ex.Error.ToString(), ex.Message);
                return new Status(status, ex.Message);
            case RedisConnectionException or RedisTimeoutException or TimeoutException:
            case RedisServerException server when IsFailingOver(server):
                StorageLog.Refused(logger, operation, "Unavailable", exception.Message);
                return new Status(StatusCode.Unavailable, "Redis is unavailable: " + exception.Message);
            case InvalidDataException:
                StorageLog.Refused(logger, operation, "DataLoss", exception.Message);
                return new Status(StatusCode.DataLoss, exception.Message);
            case var store when Broker.Storage.Segments.ResilientSegmentStore.IsTransient(store):
                StorageLog.Refused(logger, operation, "Unavailable", exception.Message);
                return new Status(StatusCode.Unavailable, "The segment store is unavailable: " + exception.Message);
            default:
                return null;
        }
    }

    /// <summary>
    /// What a Redis node answers while it is not (or not yet) the primary: a failover is under way (READONLY from a
    /// demoted primary, MASTERDOWN from a replica without its primary, LOADING while a restarted node reads its data).
    /// The connection moves to the new primary by itself, so the call is worth retrying.
    /// </summary>
    private static bool IsFailingOver(RedisServerException exception) =>
        exception.Message.StartsWith("READONLY", StringComparison.Ordinal)
        || exception.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || exception.Message.StartsWith("LOADING", StringComparison.Ordinal);
}
