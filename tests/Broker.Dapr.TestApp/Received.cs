using System.Collections.Concurrent;

namespace Broker.Dapr.TestApp;

public sealed record Order(int Id, int Quantity);

/// <summary>Deliveries per handler: how many times each order id came.</summary>
public sealed class Received
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<int, int>> _handlers = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<int>> _batches = new();

    public int Add(string handler, int id) => _handlers.GetOrAdd(handler, _ => new()).AddOrUpdate(id, 1, (_, n) => n + 1);

    public void AddBatch(string handler, int size) => _batches.GetOrAdd(handler, _ => new()).Enqueue(size);

    public IDictionary<int, int> Of(string handler) => _handlers.TryGetValue(handler, out var ids) ? new SortedDictionary<int, int>(ids) : new SortedDictionary<int, int>();

    public int[] BatchesOf(string handler) => _batches.TryGetValue(handler, out var sizes) ? [.. sizes] : [];
}
