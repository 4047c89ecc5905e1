namespace SchemaRegistry.Registry;

/// <summary>The seven compatibility levels: which direction is checked, and against which live versions.</summary>
public static class CompatibilityLevels
{
    public const string Kind = "compatibility";

    public static readonly string[] All = ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"];

    public static string? Normalize(string? level) =>
        level is null ? null : All.FirstOrDefault(l => string.Equals(l, level, StringComparison.OrdinalIgnoreCase));

    /// <summary>New schema reads old data.</summary>
    public static bool Backward(string level) => level is "BACKWARD" or "BACKWARD_TRANSITIVE" or "FULL" or "FULL_TRANSITIVE";

    /// <summary>Old schemas read new data.</summary>
    public static bool Forward(string level) => level is "FORWARD" or "FORWARD_TRANSITIVE" or "FULL" or "FULL_TRANSITIVE";

    /// <summary>Every live version, not only the latest.</summary>
    public static bool Transitive(string level) => level.EndsWith("_TRANSITIVE", StringComparison.Ordinal);
}

/// <summary>READWRITE (normal), READONLY (no registration or deletion), IMPORT (registration with explicit ids, no checks).</summary>
public static class Modes
{
    public const string Kind = "mode";
    public const string ReadWrite = "READWRITE";
    public const string ReadOnly = "READONLY";
    public const string Import = "IMPORT";

    public static string? Normalize(string? mode) =>
        mode?.ToUpperInvariant() switch
        {
            ReadWrite => ReadWrite,
            ReadOnly or "READONLY_OVERRIDE" => ReadOnly,
            Import => Import,
            _ => null,
        };
}
