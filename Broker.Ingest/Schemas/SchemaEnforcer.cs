using System.Collections.Concurrent;
using System.Text.Json;
using Broker.Ingest.Producing;
using Broker.Schemas.Avro;
using Broker.Schemas.Wire;
using Microsoft.Extensions.Options;

namespace Broker.Ingest.Schemas;

/// <summary>
/// Schema enforcement for topics that name a subject: every value must be in the Confluent wire format
/// (magic byte 0, 4-byte big-endian schema id, Avro binary), with an id registered under the topic's
/// subject, and a body that is exactly one value of that schema. Checked before anything of the request is
/// admitted, so a refused request writes nothing. Schemas are cached by id for good (an id's schema never
/// changes), fetched and parsed once per id however many requests ask for it at once; "id N is under subject S"
/// for Ingest:SchemaCacheSeconds, and a "no" for a few seconds.
/// </summary>
public sealed class SchemaEnforcer(SchemaRegistryClient registry, TimeProvider time, IOptions<IngestOptions> options)
{
    private static readonly TimeSpan s_negativeTtl = TimeSpan.FromSeconds(5);
    // One fetch per id, shared by every request that waits for it; dropped when it fails or finds nothing, so a later ask tries again.
    private readonly ConcurrentDictionary<int, Lazy<Task<AvroSchema?>>> _schemas = new();
    private readonly ConcurrentDictionary<(int Id, string Subject), (bool Registered, long ExpiresAt)> _membership = new();
    private readonly TimeSpan _ttl = TimeSpan.FromSeconds(options.Value.SchemaCacheSeconds);

    /// <summary>Refuses the request (ProduceException, INVALID_ARGUMENT) unless every value fits the subject.</summary>
    public async ValueTask CheckAsync(string subject, IReadOnlyList<OutgoingRecord> records, CancellationToken cancellationToken)
    {
        for (var i = 0; i < records.Count; i++)
        {
            var value = records[i].Value;
            if (!ConfluentWireFormat.TryRead(value.Span, out var id, out _, out var framing))
            {
                throw Refused(i, subject, $"the value {framing}");
            }
            var schema = await SchemaOfAsync(id, subject, i, cancellationToken);
            if (!AvroBinaryValidator.TryValidate(schema.Schema, value.Span[ConfluentWireFormat.HeaderSize..], out var error))
            {
                throw Refused(i, subject, $"the value does not decode with schema {id}: {error}");
            }
        }
    }

    /// <summary>
    /// A JSON value (Avro's JSON encoding) encoded with schema <paramref name="schemaId"/> and framed in the wire
    /// format, as the Confluent REST proxy does; the id must be registered under <paramref name="subject"/> when given.
    /// </summary>
    public async ValueTask<byte[]> EncodeAsync(int schemaId, JsonElement value, string? subject, int index, CancellationToken cancellationToken)
    {
        var schema = subject is null
            ? await FindAsync(schemaId, cancellationToken) ?? throw Refused(index, null, $"schema id {schemaId} is not registered")
            : await SchemaOfAsync(schemaId, subject, index, cancellationToken);
        byte[] body;
        try
        {
            body = AvroJsonEncoder.Encode(schema.Schema, value);
        }
        catch (AvroEncodingException ex)
        {
            throw Refused(index, subject, $"the value does not fit schema {schemaId}: {ex.Message}");
        }
        var framed = new byte[ConfluentWireFormat.HeaderSize + body.Length];
        ConfluentWireFormat.WriteHeader(framed, schemaId);
        body.CopyTo(framed, ConfluentWireFormat.HeaderSize);
        return framed;
    }

    private async ValueTask<AvroSchema> SchemaOfAsync(int id, string subject, int index, CancellationToken cancellationToken)
    {
        var schema = await FindAsync(id, cancellationToken)
            ?? throw Refused(index, subject, $"schema id {id} is not registered");
        var now = time.GetTimestamp();
        if (!_membership.TryGetValue((id, subject), out var known) || known.ExpiresAt <= now)
        {
            var registered = await Ask(() => registry.IsRegisteredUnderAsync(id, subject, cancellationToken));
            known = (registered, now + (long)((registered ? _ttl : s_negativeTtl).TotalSeconds * time.TimestampFrequency));
            _membership[(id, subject)] = known;
        }
        return known.Registered ? schema : throw Refused(index, subject, $"schema id {id} is not registered under subject '{subject}'");
    }

    private async ValueTask<AvroSchema?> FindAsync(int id, CancellationToken cancellationToken)
    {
        var fetch = _schemas.GetOrAdd(id, key => new Lazy<Task<AvroSchema?>>(() => FetchAsync(key)));
        if (fetch.Value.IsCompletedSuccessfully && fetch.Value.Result is { } known)
        {
            return known;
        }
        try
        {
            // The fetch is shared: one request giving up does not cancel it for the others (the registry client times out).
            var schema = await Ask(() => fetch.Value.WaitAsync(cancellationToken));
            if (schema is null)
            {
                _schemas.TryRemove(new KeyValuePair<int, Lazy<Task<AvroSchema?>>>(id, fetch));
            }
            return schema;
        }
        catch (ProduceException) when (fetch.Value.IsFaulted || fetch.Value.IsCanceled)
        {
            _schemas.TryRemove(new KeyValuePair<int, Lazy<Task<AvroSchema?>>>(id, fetch));
            throw;
        }
    }

    private Task<AvroSchema?> FetchAsync(int id) => registry.GetSchemaAsync(id, CancellationToken.None);

    private static async Task<T> Ask<T>(Func<Task<T>> question)
    {
        try
        {
            return await question();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidSchemaException)
        {
            throw new ProduceException(ProduceError.Unavailable, $"The schema registry did not answer: {ex.Message}", ex);
        }
    }

    private static ProduceException Refused(int index, string? subject, string reason) => new(ProduceError.InvalidArgument,
        subject is null ? $"Record {index}: {reason}." : $"Record {index} is refused by topic's schema subject '{subject}': {reason}.");
}
