using System.Text.RegularExpressions;

namespace Broker.Contracts.Naming;

/// <summary>
/// The rule for topic and consumer-group names, shared by every service: Kafka's (ASCII letters, digits,
/// '.', '_' and '-', at most 249 characters). It also keeps ':', '{}' and spaces out of Redis keys.
/// </summary>
public static partial class Names
{
    public const int MaxLength = 249;

    /// <summary>How much of a caller's text (a name, an id, a URL) a message quotes.</summary>
    public const int QuotedLength = 100;

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex Legal();

    /// <summary>Null when <paramref name="name"/> is legal, else what is wrong with it, naming it a <paramref name="what"/>.</summary>
    public static string? Check(string? name, string what = "topic")
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"A {what} name must not be empty.";
        }
        if (name.Length > MaxLength)
        {
            return $"A {what} name has at most {MaxLength} characters; '{name[..20]}…' has {name.Length}.";
        }
        if (name is "." or "..")
        {
            return $"'{name}' is not a legal {what} name.";
        }
        return Legal().IsMatch(name)
            ? null
            : $"'{name}' is not a legal {what} name: use ASCII letters, digits, '.', '_' and '-'.";
    }

    /// <summary>
    /// A caller's text as a message quotes it: whole up to <see cref="QuotedLength"/> characters, else its start and its
    /// length, so that a refusal never grows with what it refuses.
    /// </summary>
    public static string Quote(string? text) => text is null ? ""
        : text.Length <= QuotedLength ? text
        : $"{text.AsSpan(0, QuotedLength)}… ({text.Length} characters)";
}
