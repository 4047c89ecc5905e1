using Broker.Contracts.Acls;
using Broker.ServiceDefaults.Security.Acls;
using Grpc.Core;

namespace Broker.Storage.Acls;

/// <summary>acls.proto: the ACLs, then again after every change, to the services that enforce them (cluster describe).</summary>
internal sealed class AclGrpcService(AclCache cache, AccessControl access) : AclService.AclServiceBase
{
    public override async Task Watch(WatchAclsRequest request, IServerStreamWriter<Contracts.Acls.AclSnapshot> responseStream, ServerCallContext context)
    {
        access.Demand(context, AclResourceType.Cluster, ServiceDefaults.Security.Acls.AclEntry.ClusterName, AclOperation.Describe);
        ServiceDefaults.Security.Acls.AclSnapshot? sent = null;
        while (!context.CancellationToken.IsCancellationRequested)
        {
            // Taken before reading the snapshot, so a change between the two is not missed.
            var changed = cache.Changed;
            if (cache.Current is { } current && !ReferenceEquals(current, sent))
            {
                await responseStream.WriteAsync(AclWire.ToMessage(current), context.CancellationToken);
                sent = current;
            }
            await changed.WaitAsync(context.CancellationToken);
        }
    }
}
