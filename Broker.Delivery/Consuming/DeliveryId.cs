using System.Globalization;

namespace Broker.Delivery.Consuming;

/// <summary>
/// What a consumer acks: "{member}.{partition}.{offset}.{attempt}". The member id (instance-unique) says
/// which consumer, and so which instance, holds the record; the rest finds it.
/// </summary>
internal readonly record struct DeliveryId(string MemberId, int Partition, long Offset, int Attempt)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{MemberId}.{Partition}.{Offset}.{Attempt}");

    public static bool TryParse(string? text, out DeliveryId id)
    {
        id = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var s = text.AsSpan();
        var last = s.LastIndexOf('.');
        if (last <= 0 || !int.TryParse(s[(last + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt))
        {
            return false;
        }
        s = s[..last];
        last = s.LastIndexOf('.');
        if (last <= 0 || !long.TryParse(s[(last + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return false;
        }
        s = s[..last];
        last = s.LastIndexOf('.');
        if (last <= 0 || !int.TryParse(s[(last + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            return false;
        }
        id = new DeliveryId(s[..last].ToString(), partition, offset, attempt);
        return true;
    }
}
