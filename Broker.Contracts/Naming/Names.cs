using System.Text.RegularExpressions;

namespace Broker.Contracts.Naming;

/// <summary>
/// The rule for topic and consumer-group names, shared by every service: Kafka's (ASCII letters, digits,
/// '.', '_' and '-', at most 249 characters). It also keeps ':', '{}' and spaces out of Redis keys.
/// </summary>
public static partial class Names
{
    public const int MaxLength = 249;

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
}
