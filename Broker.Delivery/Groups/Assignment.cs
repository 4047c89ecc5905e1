namespace Broker.Delivery.Groups;

/// <summary>
/// Which member should hold which partition: partition p goes to the (p mod n)-th live member in id order.
/// Every instance computes it from the same member list, so they agree without talking; the leases keep
/// two members from delivering one partition while instances briefly see different lists.
/// </summary>
public static class Assignment
{
    public static IReadOnlyDictionary<string, List<int>> Assign(IReadOnlyList<string> members, int partitions)
    {
        var sorted = members.Order(StringComparer.Ordinal).ToArray();
        var assignment = sorted.ToDictionary(m => m, _ => new List<int>(), StringComparer.Ordinal);
        if (sorted.Length == 0)
        {
            return assignment;
        }
        for (var p = 0; p < partitions; p++)
        {
            assignment[sorted[p % sorted.Length]].Add(p);
        }
        return assignment;
    }
}
