using System.Buffers.Binary;

namespace Broker.Schemas.Wire;

/// <summary>
/// The Confluent wire format of a value (or key) written with a registered schema: a zero magic byte, the
/// schema id as a 4-byte big-endian integer, then the body (for Avro, plain binary in the writer schema).
/// </summary>
public static class ConfluentWireFormat
{
    public const byte MagicByte = 0;
    public const int HeaderSize = 5;

    /// <summary>Splits a framed value; false (with the reason) when it is not one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out int schemaId, out ReadOnlySpan<byte> body, out string? error)
    {
        schemaId = 0;
        body = default;
        if (value.Length < HeaderSize)
        {
            error = $"is {value.Length} bytes, shorter than the 5-byte schema header (magic byte 0, 4-byte schema id)";
            return false;
        }
        if (value[0] != MagicByte)
        {
            error = $"starts with byte {value[0]}, not the magic byte 0 of the schema registry wire format";
            return false;
        }
        schemaId = BinaryPrimitives.ReadInt32BigEndian(value[1..]);
        body = value[HeaderSize..];
        error = null;
        return true;
    }

    /// <summary>Writes the 5-byte header for <paramref name="schemaId"/> into <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, int schemaId)
    {
        destination[0] = MagicByte;
        BinaryPrimitives.WriteInt32BigEndian(destination[1..], schemaId);
    }
}
