namespace Orders;

/// <summary>An order as it travels: the record's JSON value on the topic <c>orders</c>, keyed by <see cref="Customer"/>.</summary>
public sealed record Order(string Id, string Customer, decimal Total);
