namespace Broker.Delivery.Outbound;

/// <summary>Reads an answer's body up to a cap and no further: one byte past it fails, and nothing of it is kept.</summary>
internal static class BoundedBody
{
    /// <summary>
    /// The body, at most <paramref name="cap"/> bytes; throws an <see cref="OutboundException"/> naming the cap when the
    /// answer says (Content-Length) or turns out to be longer. Read with HttpCompletionOption.ResponseHeadersRead, so
    /// nothing was buffered before.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpResponseMessage response, int cap, string what, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is { } length && length > cap)
        {
            throw new OutboundException(OutboundErrors.TooLarge(what, cap));
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var limit = cap + 1;
        var buffer = new byte[(int)Math.Min(limit, response.Content.Headers.ContentLength is { } known ? known + 1 : 16 * 1024)];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (buffer.Length == limit)
                {
                    throw new OutboundException(OutboundErrors.TooLarge(what, cap));
                }
                Array.Resize(ref buffer, (int)Math.Min(limit, buffer.Length * 2L));
            }
            var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return buffer.AsMemory(0, filled);
            }
            filled += read;
        }
    }
}
