namespace Broker.Schemas.Avro;

/// <summary>
/// How large a schema may be when it is admitted (the registry checks it on registration, lookup and the
/// compatibility endpoints): a bound on the work any check of it can take, beside the bound on its text. Every
/// check is linear in the schema's types (named types are referenced, never expanded), so these limits are a
/// second line of defence, set well above what real schemas use.
/// </summary>
public sealed record AvroSchemaLimits
{
    /// <summary>10,000 types, nesting 64 deep: the registry's defaults (SchemaRegistry:MaxSchemaTypes, SchemaRegistry:MaxSchemaNesting).</summary>
    public static AvroSchemaLimits Default { get; } = new();

    /// <summary>
    /// No limits: for schemas admitted already (read back from the registry's store, or fetched by id), which must
    /// still parse whatever the limits were when they were registered.
    /// </summary>
    public static AvroSchemaLimits None { get; } = new() { MaxTypes = int.MaxValue, MaxNesting = int.MaxValue };

    /// <summary>
    /// The most types a schema may have: every named type once however often it is used, every anonymous one
    /// (union, array, map, primitive) each time it is written.
    /// </summary>
    public int MaxTypes { get; init; } = 10_000;

    /// <summary>
    /// The deepest nesting of types within types along any path (a union, an array or a map is a level as a record
    /// is; a type met again inside itself, as in a recursive schema, counts once).
    /// </summary>
    public int MaxNesting { get; init; } = 64;
}
