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
        catch (LogException ex)
        {
            var status = ex.Error switch
            {
                LogError.TopicNotFound or LogError.PartitionNotFound => StatusCode.NotFound,
                LogError.OutOfOrderSequence => StatusCode.FailedPrecondition,
                LogError.OffsetOutOfRange => StatusCode.OutOfRange,
                _ => StatusCode.InvalidArgument,
            };
            StorageLog.Refused(logger, context.Method, ex.Error.ToString(), ex.Message);
            throw new RpcException(new Status(status, ex.Message));
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            StorageLog.Refused(logger, context.Method, "Unavailable", ex.Message);
            throw new RpcException(new Status(StatusCode.Unavailable, "Redis is unavailable: " + ex.Message));
        }
    }
}
