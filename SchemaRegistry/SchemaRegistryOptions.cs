using System.ComponentModel.DataAnnotations;

namespace SchemaRegistry;

/// <summary>The registry's settings, bound from the "SchemaRegistry" section and validated at start-up.</summary>
public sealed class SchemaRegistryOptions
{
    public const string SectionName = "SchemaRegistry";

    /// <summary>Prefix of the registry's Redis keys.</summary>
    [Required, RegularExpression("^[A-Za-z0-9._-]+$")]
    public string KeyPrefix { get; set; } = "registry";

    /// <summary>Where the file store keeps the registry when no Redis is configured.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data/schema-registry";

    /// <summary>The compatibility level when neither the subject nor PUT /config set one (Confluent's schema.compatibility.level).</summary>
    [Required]
    public string DefaultCompatibility { get; set; } = "BACKWARD";

    /// <summary>Storage's gRPC endpoint, where the registry reads the broker's ACLs when authentication is on.</summary>
    [Required]
    public string StorageAddress { get; set; } = "http://_grpc.storage";

    /// <summary>The largest schema text accepted (42209 beyond).</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxSchemaBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most types a schema may have (42201 beyond): every named type once however often it is used, every
    /// anonymous one each time it is written. See <see cref="Broker.Schemas.Avro.AvroSchemaLimits"/>.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxSchemaTypes { get; set; } = Broker.Schemas.Avro.AvroSchemaLimits.Default.MaxTypes;

    /// <summary>How deeply a schema's types may nest within one another (42201 beyond; a recursive reference counts once).</summary>
    [Range(1, 1_000)]
    public int MaxSchemaNesting { get; set; } = Broker.Schemas.Avro.AvroSchemaLimits.Default.MaxNesting;
}
