namespace Broker.Delivery.Dapr;

/// <summary>The apps declared through the REST API, shared by every Delivery instance.</summary>
public interface IDaprAppStore
{
    Task<IReadOnlyList<DaprApp>> ListAsync(CancellationToken cancellationToken);

    /// <summary>The app as stored, or null: what the API answers from, since an instance's running apps lag the store.</summary>
    Task<DaprApp?> GetAsync(string appId, CancellationToken cancellationToken);

    Task PutAsync(DaprApp app, CancellationToken cancellationToken);

    /// <summary>False when there was no such app.</summary>
    Task<bool> DeleteAsync(string appId, CancellationToken cancellationToken);
}
