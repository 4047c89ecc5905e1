namespace Orders;

/// <summary>The last orders an app received, newest last, for <c>GET /received</c> (the sample's test reads it).</summary>
public sealed class ReceivedOrders
{
    /// <summary>Kept in memory, so bounded: older orders are forgotten.</summary>
    public const int Capacity = 1000;

    private readonly Queue<Order> _orders = new();
    private readonly Lock _lock = new();

    public void Add(Order order)
    {
        lock (_lock)
        {
            if (_orders.Count == Capacity)
            {
                _orders.Dequeue();
            }
            _orders.Enqueue(order);
        }
    }

    public Order[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _orders];
        }
    }
}
