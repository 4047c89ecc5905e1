using System.Globalization;
using System.Text.Json;
using Broker.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SchemaRegistry.Storage;

/// <summary>
/// The registry in Redis. Every key shares the hash tag "{sr}", so the whole registry is one Cluster slot
/// and each script touches one slot (the registry is small; its writes are rare). Ids come from one counter
/// inside a script that also records the schema, so no two schemas get one id, across any number of
/// registry instances; a subject's versions change only by compare-and-set on its revision. Every command goes
/// through <see cref="RunAsync"/>: a failure of Redis (or a timeout) is a <see cref="SchemaStoreException"/>, whose
/// client details are for the log only.
/// </summary>
internal sealed class RedisSchemaStore(IConnectionMultiplexer redis, IOptions<SchemaRegistryOptions> options) : ISchemaStore
{
    /// <summary>
    /// KEYS: fingerprints, schemas, next id. ARGV: fingerprint, schema JSON, requested id or "".
    /// Returns {outcome, id}: 0 assigned, 1 the schema has another id, 2 the id is taken.
    /// </summary>
    private static readonly RedisScript s_assignId = new("""
        local existing = redis.call('HGET', KEYS[1], ARGV[1])
        if existing then
          if ARGV[3] ~= '' and ARGV[3] ~= existing then
            return {1, tonumber(existing)}
          end
          return {0, tonumber(existing)}
        end
        local id
        if ARGV[3] ~= '' then
          if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then
            return {2, tonumber(ARGV[3])}
          end
          id = tonumber(ARGV[3])
          -- Keep the counter past imported ids, so no later schema gets one of them.
          if id > tonumber(redis.call('GET', KEYS[3]) or '0') then
            redis.call('SET', KEYS[3], id)
          end
        else
          id = redis.call('INCR', KEYS[3])
          while redis.call('HEXISTS', KEYS[2], id) == 1 do
            id = redis.call('INCR', KEYS[3])
          end
        end
        redis.call('HSET', KEYS[2], id, ARGV[2])
        redis.call('HSET', KEYS[1], ARGV[1], id)
        return {0, id}
        """);

    /// <summary>
    /// KEYS: subjects, revisions, compatibility settings, mode settings. ARGV: subject, expected revision,
    /// versions JSON ("" removes the subject and its settings). Returns 1 when written, 0 when the revision moved.
    /// </summary>
    private static readonly RedisScript s_saveSubject = new("""
        local current = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        if current ~= tonumber(ARGV[2]) then
          return 0
        end
        if ARGV[3] == '' then
          redis.call('HDEL', KEYS[1], ARGV[1])
          redis.call('HDEL', KEYS[2], ARGV[1])
          redis.call('HDEL', KEYS[3], ARGV[1])
          redis.call('HDEL', KEYS[4], ARGV[1])
        else
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
          redis.call('HSET', KEYS[2], ARGV[1], current + 1)
        end
        return 1
        """);

    private const string GlobalField = "";
    private readonly string _prefix = options.Value.KeyPrefix + ":{sr}:";

    private IDatabase Db => redis.GetDatabase();
    private RedisKey Key(string name) => _prefix + name;

    public async Task<(IdOutcome Outcome, int Id)> GetOrAssignIdAsync(
        string fingerprint, string schemaType, string schema, int? requestedId, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.Serialize(new SchemaDocument(schemaType, schema, fingerprint), StoreJsonContext.Default.SchemaDocument);
        var result = (RedisResult[])(await RunAsync(() => s_assignId.EvaluateAsync(Db,
            [Key("fingerprints"), Key("schemas"), Key("next-id")],
            [fingerprint, json, requestedId?.ToString(CultureInfo.InvariantCulture) ?? ""]), cancellationToken))!;
        var outcome = (int)result[0] switch
        {
            0 => IdOutcome.Assigned,
            1 => IdOutcome.SchemaHasOtherId,
            _ => IdOutcome.IdTaken,
        };
        return (outcome, (int)result[1]);
    }

    public async Task<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken)
    {
        var json = await RunAsync(() => Db.HashGetAsync(Key("schemas"), id), cancellationToken);
        if (json.IsNull)
        {
            return null;
        }
        var document = JsonSerializer.Deserialize((string)json!, StoreJsonContext.Default.SchemaDocument)!;
        return new StoredSchema(id, document.SchemaType, document.Schema, document.Fingerprint);
    }

    public async Task<int?> FindIdAsync(string fingerprint, CancellationToken cancellationToken)
    {
        var id = await RunAsync(() => Db.HashGetAsync(Key("fingerprints"), fingerprint), cancellationToken);
        return id.IsNull ? null : (int)id;
    }

    public async Task<StoredSubject?> GetSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        // One transaction: versions and revision read at one moment, or a stale list could pass the revision check.
        var read = Db.CreateTransaction();
        var versions = read.HashGetAsync(Key("subjects"), subject);
        var revision = read.HashGetAsync(Key("revisions"), subject);
        await RunAsync(() => read.ExecuteAsync(), cancellationToken);
        return (await versions).IsNull ? null : ToSubject(subject, (await versions)!, await revision);
    }

    public async Task<IReadOnlyList<StoredSubject>> GetSubjectsAsync(CancellationToken cancellationToken)
    {
        var read = Db.CreateTransaction();
        var versions = read.HashGetAllAsync(Key("subjects"));
        var revisions = read.HashGetAllAsync(Key("revisions"));
        await RunAsync(() => read.ExecuteAsync(), cancellationToken);
        var revisionOf = revisions.Result.ToDictionary(e => (string)e.Name!, e => e.Value);
        return [.. versions.Result
            .Select(e => ToSubject((string)e.Name!, e.Value!, revisionOf.GetValueOrDefault((string)e.Name!)))
            .OrderBy(s => s.Name, StringComparer.Ordinal)];
    }

    public async Task<bool> TrySaveSubjectAsync(string subject, int expectedRevision, IReadOnlyList<StoredVersion> versions, CancellationToken cancellationToken)
    {
        var json = versions.Count == 0 ? "" : JsonSerializer.Serialize([.. versions], StoreJsonContext.Default.StoredVersionArray);
        var result = await RunAsync(() => s_saveSubject.EvaluateAsync(Db,
            [Key("subjects"), Key("revisions"), Key("compatibility"), Key("mode")],
            [subject, expectedRevision, json]), cancellationToken);
        return (int)result == 1;
    }

    public async Task<string?> GetSettingAsync(string kind, string? subject, CancellationToken cancellationToken)
    {
        var value = await RunAsync(() => Db.HashGetAsync(Key(kind), subject ?? GlobalField), cancellationToken);
        return value.IsNull ? null : (string)value!;
    }

    public async Task<string?> SetSettingAsync(string kind, string? subject, string? value, CancellationToken cancellationToken)
    {
        var field = subject ?? GlobalField;
        var transaction = Db.CreateTransaction();
        var previous = transaction.HashGetAsync(Key(kind), field);
        _ = value is null ? transaction.HashDeleteAsync(Key(kind), field) : transaction.HashSetAsync(Key(kind), field, value);
        await RunAsync(() => transaction.ExecuteAsync(), cancellationToken);
        var old = await previous;
        return old.IsNull ? null : (string)old!;
    }

    /// <summary>
    /// Runs one Redis command (or transaction), waiting at most until <paramref name="cancellationToken"/> (the
    /// command may still run); Redis's failures and timeouts become <see cref="SchemaStoreException"/>.
    /// </summary>
    private static async Task<T> RunAsync<T>(Func<Task<T>> command, CancellationToken cancellationToken)
    {
        try
        {
            return await command().WaitAsync(cancellationToken);
        }
        catch (RedisTimeoutException ex)
        {
            throw new SchemaStoreException(timedOut: true, ex);
        }
        catch (RedisException ex)
        {
            throw new SchemaStoreException(timedOut: false, ex);
        }
    }

    private static StoredSubject ToSubject(string name, RedisValue versions, RedisValue revision) =>
        new(name, revision.IsNull ? 0 : (int)revision, JsonSerializer.Deserialize((string)versions!, StoreJsonContext.Default.StoredVersionArray)!);
}
