using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What the framework's own refusals say, which it answers with a status and a title only: no endpoint for the path
/// (or none taking a body of that type), a method the path does not take, a body past the endpoint's limit, a body that
/// is not JSON. And the limit itself: <see cref="WithRequestBodyLimit{TBuilder}"/> caps what a group of endpoints reads.
/// </summary>
public static class FrameworkRefusals
{
    /// <summary>How much of a path or a content type a message quotes.</summary>
    private const int QuotedLength = 200;

    /// <summary>The detail for a framework refusal of <paramref name="status"/>, or null when there is nothing to add.</summary>
    public static string? Explain(HttpContext context, int? status)
    {
        var request = context.Request;
        var what = $"{request.Method} {Quote(request.Path.ToUriComponent())}";
        var contentType = request.ContentType is { Length: > 0 } type ? Quote(type) : null;
        return status switch
        {
            StatusCodes.Status404NotFound when context.GetEndpoint() is null => contentType is not null && !IsJson(contentType)
                ? $"Nothing here answers {what} with a body of type '{contentType}': request bodies are JSON (Content-Type: application/json)."
                : $"Nothing here answers {what}.",
            StatusCodes.Status405MethodNotAllowed => $"{what}: the path does not take {request.Method}.",
            StatusCodes.Status413PayloadTooLarge => context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is { } limit
                ? $"The request body is larger than {limit} bytes, the most {what} takes."
                : $"The request body is larger than {what} takes.",
            StatusCodes.Status415UnsupportedMediaType => $"The body of {what} is JSON (Content-Type: application/json); got '{contentType ?? "none"}'.",
            _ => null,
        };
    }

    /// <summary>
    /// Caps the request bodies the endpoints read at <paramref name="maxBytes"/> (Kestrel's default is 30 MB): a larger one
    /// is refused with 413 before it is read, so no endpoint buffers more of a body than it can use.
    /// </summary>
    public static TBuilder WithRequestBodyLimit<TBuilder>(this TBuilder builder, long maxBytes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestBodyLimit(maxBytes));

    private static bool IsJson(string contentType)
    {
        var media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static string Quote(string text) => text.Length <= QuotedLength ? text : string.Concat(text.AsSpan(0, QuotedLength), "…");

    private sealed record RequestBodyLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;
}
