using Avro.Generic;
using Avro.IO;
using Avro.Specific;
using Broker.Client.Serialization;
using Broker.Schemas.Wire;

namespace Broker.Client.Avro;

/// <summary>How the Avro serializer names subjects and registers schemas.</summary>
public sealed class AvroSerializerOptions
{
    /// <summary>Register the value's schema under its subject when it is not there (Confluent's <c>auto.register.schemas</c>, on).</summary>
    public bool AutoRegisterSchemas { get; set; } = true;

    /// <summary>The subject of a topic's keys or values; default Confluent's TopicNameStrategy, <c>{topic}-key</c> / <c>{topic}-value</c>.</summary>
    public Func<string, MessageComponent, string> SubjectNameStrategy { get; set; } =
        (topic, component) => component == MessageComponent.Key ? $"{topic}-key" : $"{topic}-value";
}

/// <summary>
/// Avro in the Confluent wire format (a zero byte, the schema id big-endian, the Avro binary) for <see cref="GenericRecord"/>
/// or a generated <see cref="ISpecificRecord"/> class: what Confluent's <c>AvroDeserializer</c> reads. The schema's id
/// comes from the registry once per (subject, schema) and is cached; that first call waits for the registry.
/// </summary>
/// <typeparam name="T"><see cref="GenericRecord"/> or an <see cref="ISpecificRecord"/> class.</typeparam>
public sealed class AvroSerializer<T>(SchemaRegistryClient registry, AvroSerializerOptions? options = null) : ISerializer<T>
{
    private readonly AvroSerializerOptions _options = options ?? new AvroSerializerOptions();

    /// <inheritdoc/>
    public byte[]? Serialize(T data, SerializationContext context)
    {
        if (data is null)
        {
            return null;
        }
        var schema = data switch
        {
            GenericRecord generic => generic.Schema,
            ISpecificRecord specific => specific.Schema,
            _ => throw new NotSupportedException($"AvroSerializer<{typeof(T).Name}> serializes GenericRecord or ISpecificRecord values."),
        };
        var subject = _options.SubjectNameStrategy(context.Topic, context.Component);
        // Sync over async on a cache miss only: the first record of a schema waits for the registry, the rest take the cache.
        var id = registry.GetIdAsync(subject, schema.ToString(), _options.AutoRegisterSchemas).GetAwaiter().GetResult();
        using var stream = new MemoryStream();
        Span<byte> header = stackalloc byte[5];
        ConfluentWireFormat.WriteHeader(header, id);
        stream.Write(header);
        var encoder = new BinaryEncoder(stream);
        if (data is GenericRecord record)
        {
            new GenericDatumWriter<GenericRecord>(schema).Write(record, encoder);
        }
        else
        {
            new SpecificDatumWriter<T>(schema).Write(data, encoder);
        }
        encoder.Flush();
        return stream.ToArray();
    }
}

/// <summary>
/// Reads the Confluent wire format: the schema the id names (fetched once, cached) is the writer's schema; a
/// <see cref="GenericRecord"/> comes back in it, a generated class in its own schema (Avro's resolution rules between them).
/// </summary>
/// <typeparam name="T"><see cref="GenericRecord"/> or an <see cref="ISpecificRecord"/> class.</typeparam>
public sealed class AvroDeserializer<T>(SchemaRegistryClient registry) : IDeserializer<T>
{
    private readonly global::Avro.Schema? _readerSchema = typeof(ISpecificRecord).IsAssignableFrom(typeof(T))
        ? ((ISpecificRecord)Activator.CreateInstance<T>()!).Schema
        : null;

    /// <inheritdoc/>
    public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (isNull)
        {
            return default!;
        }
        if (!ConfluentWireFormat.TryRead(data, out var id, out var body, out var error))
        {
            throw new InvalidDataException($"Not the Confluent wire format: {error}");
        }
        var writer = registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        using var stream = new MemoryStream(body.ToArray(), writable: false);
        var decoder = new BinaryDecoder(stream);
        if (_readerSchema is null)
        {
            return (T)(object)new GenericDatumReader<GenericRecord>(writer, writer).Read(null!, decoder);
        }
        return new SpecificDatumReader<T>(writer, _readerSchema).Read(default!, decoder);
    }
}
