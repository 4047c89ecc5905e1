namespace Broker.Delivery.Dapr;

/// <summary>The apps declared through the REST API, shared by every Delivery instance.</summary>
public interface IDaprAppStore
{
    Task<IReadOnlyList<DaprApp>> ListAsync(CancellationToken cancellationToken);

    Task PutAsync(DaprApp app, CancellationToken cancellationToken);

    /// <summary>False when there was no such app.</summary>
    Task<bool> DeleteAsync(string appId, CancellationToken cancellationToken);
}
