using System.ComponentModel;
using System.Globalization;
using System.Numerics;
using Spectre.Console.Cli;

namespace Broker.Ctl;

/// <summary>
/// Every whole-number option (int or long, optional or not) is read by one converter, so a value that is not one is
/// refused naming the option as it was typed: "--partitions: 'abc' is not a whole number." Spectre's own converters
/// said "Failed to convert 'abc' to Nullable`1." and named no option.
/// </summary>
public static class WholeNumbers
{
    /// <summary>Puts the converter in place for int and long (and so for int? and long?, whose converters ask for these).</summary>
    public static void Register()
    {
        TypeDescriptor.AddAttributes(typeof(int), new TypeConverterAttribute(typeof(WholeNumberConverter<int>)));
        TypeDescriptor.AddAttributes(typeof(long), new TypeConverterAttribute(typeof(WholeNumberConverter<long>)));
    }

    /// <summary>
    /// What to say for a value the converter refused, with the option that took it (found in <paramref name="args"/>
    /// as Spectre read it: "--name value", "--name=value" or "--name:value"); null when <paramref name="ex"/> is another error.
    /// </summary>
    public static string? Refusal(CommandAppException ex, IReadOnlyList<string> args)
    {
        if (ex.InnerException is not NotAWholeNumberException refused)
        {
            return null;
        }
        return Option(refused.Value, args) is { } option ? $"{option}: {refused.Message}" : refused.Message;
    }

    private static string? Option(string value, IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == value && i > 0 && args[i - 1].StartsWith('-'))
            {
                return args[i - 1];
            }
            if (arg.StartsWith('-') && arg.IndexOfAny(['=', ':']) is > 0 and var separator && arg[(separator + 1)..] == value)
            {
                return arg[..separator];
            }
        }
        return null;
    }
}

/// <summary>A command-line value that is not a whole number of the option's range.</summary>
public sealed class NotAWholeNumberException(string value, string message) : FormatException(message)
{
    public string Value { get; } = value;
}

/// <summary>Reads a whole number in the invariant culture ("12", "-1"), saying what is wrong with anything else.</summary>
public sealed class WholeNumberConverter<T> : TypeConverter where T : IBinaryInteger<T>, IMinMaxValue<T>
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        if (value is not string text)
        {
            return base.ConvertFrom(context, culture, value);
        }
        if (T.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }
        throw new NotAWholeNumberException(text, BigInteger.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
            ? $"'{text}' is out of range ({T.MinValue.ToString(null, CultureInfo.InvariantCulture)} to {T.MaxValue.ToString(null, CultureInfo.InvariantCulture)})."
            : $"'{text}' is not a whole number.");
    }
}
