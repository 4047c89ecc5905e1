using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Broker.Schemas.Avro;
using Microsoft.Extensions.Options;
using SchemaRegistry.Storage;

namespace SchemaRegistry.Registry;

/// <summary>What a client sends to register, look up or check a schema.</summary>
public sealed record SchemaInput(string? Schema, string? SchemaType, IReadOnlyList<SchemaReference>? References, int? Id, int? Version);

public sealed record SchemaReference(string? Name, string? Subject, int? Version);

/// <summary>A subject's or the global config: what is set of it (null: not set).</summary>
public sealed record RegistryConfig(string? CompatibilityLevel, bool? Normalize)
{
    public bool IsEmpty => CompatibilityLevel is null && Normalize is null;
}

/// <summary>A version of a subject, as the API answers it.</summary>
public sealed record SubjectVersion(string Subject, int Version, int Id, string Schema, string SchemaType);

/// <summary>
/// The registry's rules, after Confluent's: registration is idempotent per subject, a schema keeps one
/// global id wherever it is registered, versions number on from the highest ever kept, compatibility is
/// checked against live versions at the subject's (or the global) level, soft deletes hide and permanent
/// deletes remove, READONLY and IMPORT modes gate writes. Every refusal is a <see cref="RegistryException"/>
/// with Confluent's status and code.
/// </summary>
public sealed class SchemaRegistryService(ISchemaStore store, IOptions<SchemaRegistryOptions> options, ILogger<SchemaRegistryService> logger)
{
    public const string Avro = "AVRO";
    private const string NormalizeKind = "normalize";
    private const int MaxAttempts = 100;
    private readonly ConcurrentDictionary<int, AvroSchema> _parsed = new();
    private readonly SchemaRegistryOptions _options = options.Value;
    private readonly AvroSchemaLimits _limits = new() { MaxTypes = options.Value.MaxSchemaTypes, MaxNesting = options.Value.MaxSchemaNesting };

    // ---- registration and lookup -------------------------------------------------------------------------

    public async Task<(int Id, int Version)> RegisterAsync(string subject, SchemaInput input, bool force, bool normalize, CancellationToken cancellationToken)
    {
        CheckSubject(subject);
        var mode = await EffectiveModeAsync(subject, cancellationToken);
        if (mode == Modes.ReadOnly)
        {
            throw RegistryException.NotPermitted($"Subject '{subject}' is in read-only mode");
        }
        if (input.Id is not null && mode != Modes.Import)
        {
            throw RegistryException.NotPermitted("A schema id can be given only in IMPORT mode");
        }
        if (mode == Modes.Import && input.Id is null)
        {
            throw RegistryException.NotPermitted($"Subject '{subject}' is in IMPORT mode: register with an explicit id");
        }
        var parsed = Parse(input, normalize || await EffectiveNormalizeAsync(subject, cancellationToken));
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var state = await store.GetSubjectAsync(subject, cancellationToken) ?? new StoredSubject(subject, 0, []);
            var knownId = await store.FindIdAsync(parsed.Fingerprint, cancellationToken);
            if (knownId is { } id && state.Live.FirstOrDefault(v => v.Id == id) is { } registered && (input.Id is null || input.Id == id))
            {
                return (id, registered.Version); // the same schema again: no new version, no check
            }
            if (mode != Modes.Import && !force)
            {
                var messages = await IncompatibilitiesAsync(subject, state, parsed.Avro, await EffectiveCompatibilityAsync(subject, cancellationToken), null, cancellationToken);
                if (messages.Count > 0)
                {
                    throw RegistryException.Incompatible(
                        $"Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{string.Join(", ", messages)}]");
                }
            }
            var (outcome, assigned) = await store.GetOrAssignIdAsync(parsed.Fingerprint, Avro, parsed.Avro.Canonical, input.Id, cancellationToken);
            switch (outcome)
            {
                case IdOutcome.SchemaHasOtherId:
                    throw RegistryException.IdConflict($"Schema already registered with id {assigned} instead of input id {input.Id}");
                case IdOutcome.IdTaken:
                    throw RegistryException.IdConflict($"Overwrite new schema with id {assigned} is not permitted: the id belongs to another schema");
            }
            var version = state.NextVersion;
            if (mode == Modes.Import && input.Version is { } wanted)
            {
                if (state.Versions.Any(v => v.Version == wanted))
                {
                    throw RegistryException.IdConflict($"Version {wanted} of subject '{subject}' exists already");
                }
                version = wanted;
            }
            List<StoredVersion> versions = [.. state.Versions, new StoredVersion(version, assigned, false)];
            versions.Sort((a, b) => a.Version.CompareTo(b.Version));
            if (await store.TrySaveSubjectAsync(subject, state.Revision, versions, cancellationToken))
            {
                _parsed.TryAdd(assigned, parsed.Avro);
                RegistryLog.Registered(logger, subject, version, assigned);
                return (assigned, version);
            }
            // Another registration of this subject landed first: look again.
        }
        throw RegistryException.Store($"Subject '{subject}' kept changing while registering; try again.");
    }

    public async Task<SubjectVersion> LookupAsync(string subject, SchemaInput input, bool deleted, bool normalize, CancellationToken cancellationToken)
    {
        // Parsed first, as Confluent does: an invalid schema is 42201 whether or not the subject exists.
        var parsed = Parse(input, normalize || await EffectiveNormalizeAsync(subject, cancellationToken));
        var state = await store.GetSubjectAsync(subject, cancellationToken);
        if (state is null || (!deleted && !state.Live.Any()))
        {
            throw RegistryException.SubjectNotFound(subject);
        }
        var id = await store.FindIdAsync(parsed.Fingerprint, cancellationToken);
        var version = id is null ? null : state.Versions.LastOrDefault(v => v.Id == id && (deleted || !v.Deleted));
        return version is null
            ? throw RegistryException.SchemaNotFound("Schema not found")
            : new SubjectVersion(subject, version.Version, version.Id, parsed.Avro.Canonical, Avro);
    }

    public async Task<SubjectVersion> GetVersionAsync(string subject, string versionText, bool deleted, CancellationToken cancellationToken)
    {
        var (state, version) = await FindVersionAsync(subject, versionText, deleted, cancellationToken);
        var schema = await store.GetSchemaAsync(version.Id, cancellationToken)
            ?? throw RegistryException.SchemaNotFound($"Schema {version.Id} not found");
        return new SubjectVersion(state.Name, version.Version, version.Id, schema.Schema, schema.SchemaType);
    }

    public async Task<IReadOnlyList<int>> ListVersionsAsync(string subject, bool deleted, bool deletedOnly, bool deletedAsNegative, CancellationToken cancellationToken)
    {
        var state = await store.GetSubjectAsync(subject, cancellationToken);
        var versions = state?.Versions.Where(v => deletedOnly ? v.Deleted : deleted || deletedAsNegative || !v.Deleted).ToList() ?? [];
        if (state is null || versions.Count == 0)
        {
            throw RegistryException.SubjectNotFound(subject);
        }
        return [.. versions.Select(v => deletedAsNegative && v.Deleted ? -v.Version : v.Version)];
    }

    public async Task<IReadOnlyList<string>> ListSubjectsAsync(string? prefix, bool deleted, bool deletedOnly, CancellationToken cancellationToken)
    {
        var subjects = await store.GetSubjectsAsync(cancellationToken);
        return [.. subjects
            .Where(s => prefix is null || s.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Where(s => deletedOnly ? s.Versions.Any(v => v.Deleted) && !s.Live.Any() : deleted || s.Live.Any())
            .Select(s => s.Name)];
    }

    // ---- schemas by id ------------------------------------------------------------------------------------

    public async Task<StoredSchema> GetSchemaAsync(int id, CancellationToken cancellationToken) =>
        await store.GetSchemaAsync(id, cancellationToken) ?? throw RegistryException.SchemaNotFound($"Schema {id} not found");

    /// <summary>The subjects with a version (deleted ones too) of schema <paramref name="id"/>; none when no schema has that id. The schema is not looked up.</summary>
    public async Task<IReadOnlyList<string>> SubjectsHoldingAsync(int id, CancellationToken cancellationToken) =>
        [.. (await store.GetSubjectsAsync(cancellationToken)).Where(s => s.Versions.Any(v => v.Id == id)).Select(s => s.Name)];

    public async Task<IReadOnlyList<(string Subject, int Version)>> VersionsOfAsync(int id, bool deleted, CancellationToken cancellationToken)
    {
        await GetSchemaAsync(id, cancellationToken);
        var subjects = await store.GetSubjectsAsync(cancellationToken);
        return [.. subjects.SelectMany(s => s.Versions.Where(v => v.Id == id && (deleted || !v.Deleted)).Select(v => (s.Name, v.Version)))];
    }

    public async Task<IReadOnlyList<SubjectVersion>> ListSchemasAsync(string? prefix, bool deleted, bool latestOnly, CancellationToken cancellationToken)
    {
        var result = new List<SubjectVersion>();
        foreach (var subject in await store.GetSubjectsAsync(cancellationToken))
        {
            if (prefix is not null && !subject.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            var versions = subject.Versions.Where(v => deleted || !v.Deleted).ToList();
            foreach (var version in latestOnly ? versions.TakeLast(1) : versions)
            {
                var schema = await GetSchemaAsync(version.Id, cancellationToken);
                result.Add(new SubjectVersion(subject.Name, version.Version, version.Id, schema.Schema, schema.SchemaType));
            }
        }
        return result;
    }

    // ---- deletes ------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<int>> DeleteSubjectAsync(string subject, bool permanent, CancellationToken cancellationToken)
    {
        await RefuseWhenReadOnlyAsync(subject, cancellationToken);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var state = await store.GetSubjectAsync(subject, cancellationToken) ?? throw RegistryException.SubjectNotFound(subject);
            var live = state.Live.ToList();
            IReadOnlyList<StoredVersion> after;
            IReadOnlyList<int> deleted;
            if (permanent)
            {
                if (live.Count > 0)
                {
                    throw RegistryException.SubjectNotSoftDeleted(subject);
                }
                (after, deleted) = ([], [.. state.Versions.Select(v => v.Version)]);
            }
            else
            {
                if (live.Count == 0)
                {
                    throw RegistryException.SubjectSoftDeleted(subject);
                }
                (after, deleted) = ([.. state.Versions.Select(v => v with { Deleted = true })], [.. live.Select(v => v.Version)]);
            }
            if (await store.TrySaveSubjectAsync(subject, state.Revision, after, cancellationToken))
            {
                RegistryLog.SubjectDeleted(logger, subject, permanent, deleted.Count);
                return deleted;
            }
        }
        throw RegistryException.Store($"Subject '{subject}' kept changing while deleting; try again.");
    }

    public async Task<int> DeleteVersionAsync(string subject, string versionText, bool permanent, CancellationToken cancellationToken)
    {
        await RefuseWhenReadOnlyAsync(subject, cancellationToken);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            // A numbered version is found soft-deleted or not (to say which), "latest" is the latest live one.
            var (state, version) = await FindVersionAsync(subject, versionText, deleted: permanent || ParseVersion(versionText) is not null, cancellationToken);
            IReadOnlyList<StoredVersion> after;
            if (permanent)
            {
                if (!version.Deleted)
                {
                    throw RegistryException.VersionNotSoftDeleted(subject, version.Version);
                }
                after = [.. state.Versions.Where(v => v.Version != version.Version)];
            }
            else
            {
                if (version.Deleted)
                {
                    throw RegistryException.VersionSoftDeleted(subject, version.Version);
                }
                after = [.. state.Versions.Select(v => v.Version == version.Version ? v with { Deleted = true } : v)];
            }
            if (await store.TrySaveSubjectAsync(subject, state.Revision, after, cancellationToken))
            {
                return version.Version;
            }
        }
        throw RegistryException.Store($"Subject '{subject}' kept changing while deleting; try again.");
    }

    // ---- compatibility ------------------------------------------------------------------------------------

    /// <summary>
    /// Whether <paramref name="input"/> could be registered: against one version (<paramref name="versionText"/>;
    /// "latest" of a subject without versions is compatible) or, when it is null, against the live versions
    /// the subject's level names. An unparsable schema is incompatible with its reason when
    /// <paramref name="verbose"/>, else 42201.
    /// </summary>
    public async Task<(bool Compatible, IReadOnlyList<string> Messages)> TestCompatibilityAsync(
        string subject, string? versionText, SchemaInput input, bool verbose, bool normalize, CancellationToken cancellationToken)
    {
        StoredVersion? only = null;
        StoredSubject? state;
        if (versionText is not null)
        {
            var number = ParseVersion(versionText);
            state = await store.GetSubjectAsync(subject, cancellationToken);
            if (number is null)
            {
                only = state?.LatestLive;
                if (only is null)
                {
                    return (true, []);
                }
            }
            else
            {
                only = state?.Versions.FirstOrDefault(v => v.Version == number && !v.Deleted)
                    ?? throw RegistryException.VersionNotFound(subject, versionText);
            }
        }
        else
        {
            state = await store.GetSubjectAsync(subject, cancellationToken);
        }
        ParsedSchema parsed;
        try
        {
            parsed = Parse(input, normalize || await EffectiveNormalizeAsync(subject, cancellationToken));
        }
        catch (RegistryException ex) when (verbose && ex.ErrorCode == 42201)
        {
            return (false, [ex.Message]);
        }
        var level = await EffectiveCompatibilityAsync(subject, cancellationToken);
        var messages = await IncompatibilitiesAsync(subject, state ?? new StoredSubject(subject, 0, []), parsed.Avro, level, only, cancellationToken);
        return (messages.Count == 0, verbose ? messages : []);
    }

    private async Task<List<string>> IncompatibilitiesAsync(
        string subject, StoredSubject state, AvroSchema candidate, string level, StoredVersion? only, CancellationToken cancellationToken)
    {
        var messages = new List<string>();
        if (level == "NONE")
        {
            return messages;
        }
        var live = state.Live.ToList();
        var against = only is not null ? [only] : CompatibilityLevels.Transitive(level) ? live : live.TakeLast(1).ToList();
        foreach (var old in against)
        {
            var previous = await AvroOfAsync(old.Id, cancellationToken);
            var problems = new List<Incompatibility>();
            try
            {
                if (CompatibilityLevels.Backward(level))
                {
                    problems.AddRange(AvroCompatibility.Check(candidate, previous));
                }
                if (CompatibilityLevels.Forward(level))
                {
                    problems.AddRange(AvroCompatibility.Check(previous, candidate));
                }
            }
            catch (InvalidSchemaException ex)
            {
                // Past the checker's budget (AvroCompatibility.MaxPairs): refused as too complex, never an open-ended check.
                throw RegistryException.InvalidSchema(ex.Message);
            }
            if (problems.Count > 0)
            {
                messages.AddRange(problems.Select(p => p.ToString()));
                messages.Add($"{{oldSchemaVersion: {old.Version}}}");
                messages.Add($"{{oldSchema: '{previous.Canonical}'}}");
            }
        }
        if (messages.Count > 0)
        {
            messages.Add($"{{validateFields: 'false', compatibility: '{level}'}}");
        }
        return messages;
    }

    // ---- config and mode ----------------------------------------------------------------------------------

    /// <summary>
    /// The subject's own config (40408 when it has none, unless <paramref name="defaultToGlobal"/>, then the
    /// effective one), or the global one (the level falls back to the server's default).
    /// </summary>
    public async Task<RegistryConfig> GetConfigAsync(string? subject, bool defaultToGlobal, CancellationToken cancellationToken)
    {
        if (subject is null)
        {
            return await GlobalConfigAsync(cancellationToken);
        }
        var own = await OwnConfigAsync(subject, cancellationToken);
        if (!defaultToGlobal)
        {
            return own.IsEmpty ? throw RegistryException.NoSubjectCompatibility(subject) : own;
        }
        var global = await GlobalConfigAsync(cancellationToken);
        return new RegistryConfig(own.CompatibilityLevel ?? global.CompatibilityLevel, own.Normalize ?? global.Normalize);
    }

    /// <summary>Sets what the request names (a level, normalize, or both); answers what was set.</summary>
    public async Task<RegistryConfig> SetConfigAsync(string? subject, string? level, bool? normalize, CancellationToken cancellationToken)
    {
        if (subject is not null)
        {
            CheckSubject(subject);
        }
        var normalized = level is null && normalize is not null
            ? null
            : CompatibilityLevels.Normalize(level) ?? throw RegistryException.InvalidCompatibility(level);
        if (normalized is not null)
        {
            await store.SetSettingAsync(CompatibilityLevels.Kind, subject, normalized, cancellationToken);
        }
        if (normalize is { } on)
        {
            await store.SetSettingAsync(NormalizeKind, subject, on ? "true" : "false", cancellationToken);
        }
        return new RegistryConfig(normalized, normalize);
    }

    /// <summary>Removes the config; answers the one that was set (the subject's: 40401 when none; global: the effective one).</summary>
    public async Task<RegistryConfig> DeleteConfigAsync(string? subject, CancellationToken cancellationToken)
    {
        var global = subject is null ? await GlobalConfigAsync(cancellationToken) : null;
        var level = await store.SetSettingAsync(CompatibilityLevels.Kind, subject, null, cancellationToken);
        var normalize = await store.SetSettingAsync(NormalizeKind, subject, null, cancellationToken);
        var previous = new RegistryConfig(level, ParseFlag(normalize));
        if (global is not null)
        {
            return global;
        }
        return previous.IsEmpty ? throw RegistryException.SubjectNotFound(subject!) : previous;
    }

    public async Task<string> GetModeAsync(string? subject, bool defaultToGlobal, CancellationToken cancellationToken)
    {
        var own = await store.GetSettingAsync(Modes.Kind, subject, cancellationToken);
        if (own is not null)
        {
            return own;
        }
        if (subject is not null && !defaultToGlobal)
        {
            throw RegistryException.NoSubjectMode(subject);
        }
        return subject is null ? Modes.ReadWrite : await GetModeAsync(null, false, cancellationToken);
    }

    public async Task<string> SetModeAsync(string? subject, string? mode, bool force, CancellationToken cancellationToken)
    {
        if (subject is not null)
        {
            CheckSubject(subject);
        }
        var normalized = Modes.Normalize(mode) ?? throw RegistryException.InvalidMode(mode);
        if (normalized == Modes.Import && !force)
        {
            var hasSchemas = subject is null
                ? (await store.GetSubjectsAsync(cancellationToken)).Count > 0
                : await store.GetSubjectAsync(subject, cancellationToken) is not null;
            if (hasSchemas)
            {
                throw RegistryException.NotPermitted("Cannot import since found existing subjects; set force=true to enter IMPORT mode anyway");
            }
        }
        await store.SetSettingAsync(Modes.Kind, subject, normalized, cancellationToken);
        return normalized;
    }

    /// <summary>Removes the mode; answers the one that was set, 40401 when none was (global or the subject's).</summary>
    public async Task<string> DeleteModeAsync(string? subject, CancellationToken cancellationToken)
    {
        var previous = await store.SetSettingAsync(Modes.Kind, subject, null, cancellationToken);
        return previous ?? throw (subject is null
            ? new RegistryException(404, 40401, "No mode was set globally.")
            : RegistryException.SubjectNotFound(subject));
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private async Task<string> GlobalCompatibilityAsync(CancellationToken cancellationToken) =>
        await store.GetSettingAsync(CompatibilityLevels.Kind, null, cancellationToken)
        ?? CompatibilityLevels.Normalize(_options.DefaultCompatibility) ?? "BACKWARD";

    private async Task<RegistryConfig> GlobalConfigAsync(CancellationToken cancellationToken) =>
        new(await GlobalCompatibilityAsync(cancellationToken), ParseFlag(await store.GetSettingAsync(NormalizeKind, null, cancellationToken)));

    private async Task<RegistryConfig> OwnConfigAsync(string subject, CancellationToken cancellationToken) =>
        new(await store.GetSettingAsync(CompatibilityLevels.Kind, subject, cancellationToken),
            ParseFlag(await store.GetSettingAsync(NormalizeKind, subject, cancellationToken)));

    /// <summary>Config normalize: the subject's, else the global one, else off.</summary>
    private async Task<bool> EffectiveNormalizeAsync(string subject, CancellationToken cancellationToken) =>
        ParseFlag(await store.GetSettingAsync(NormalizeKind, subject, cancellationToken))
        ?? ParseFlag(await store.GetSettingAsync(NormalizeKind, null, cancellationToken))
        ?? false;

    private static bool? ParseFlag(string? value) => value is null ? null : value == "true";

    private async Task<string> EffectiveCompatibilityAsync(string subject, CancellationToken cancellationToken) =>
        await store.GetSettingAsync(CompatibilityLevels.Kind, subject, cancellationToken) ?? await GlobalCompatibilityAsync(cancellationToken);

    private async Task<string> EffectiveModeAsync(string subject, CancellationToken cancellationToken) =>
        await store.GetSettingAsync(Modes.Kind, subject, cancellationToken)
        ?? await store.GetSettingAsync(Modes.Kind, null, cancellationToken)
        ?? Modes.ReadWrite;

    private async Task RefuseWhenReadOnlyAsync(string subject, CancellationToken cancellationToken)
    {
        if (await EffectiveModeAsync(subject, cancellationToken) == Modes.ReadOnly)
        {
            throw RegistryException.NotPermitted($"Subject '{subject}' is in read-only mode");
        }
    }

    private async Task<(StoredSubject State, StoredVersion Version)> FindVersionAsync(string subject, string versionText, bool deleted, CancellationToken cancellationToken)
    {
        var number = ParseVersion(versionText);
        var state = await store.GetSubjectAsync(subject, cancellationToken);
        if (state is null || (!deleted && !state.Live.Any()))
        {
            throw RegistryException.SubjectNotFound(subject);
        }
        var version = number is null
            ? (deleted ? (state.Versions.Count > 0 ? state.Versions[^1] : null) : state.LatestLive)
            : state.Versions.FirstOrDefault(v => v.Version == number && (deleted || !v.Deleted));
        return version is null ? throw RegistryException.VersionNotFound(subject, versionText) : (state, version);
    }

    /// <summary>A version number, or null for the latest ("latest" or -1); 42202 for anything else.</summary>
    public static int? ParseVersion(string text)
    {
        if (text == "latest" || text == "-1")
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version >= 1
            ? version
            : throw RegistryException.InvalidVersion(text);
    }

    private static void CheckSubject(string subject)
    {
        if (string.IsNullOrWhiteSpace(subject) || subject.Length > 255 || subject.Any(char.IsControl))
        {
            throw RegistryException.InvalidSubject(subject);
        }
    }

    private ParsedSchema Parse(SchemaInput input, bool normalize)
    {
        var type = (input.SchemaType ?? Avro).ToUpperInvariant();
        if (type != Avro)
        {
            throw RegistryException.InvalidSchema($"Schema type {input.SchemaType} is not supported: this registry supports AVRO.");
        }
        if (input.References is { Count: > 0 })
        {
            throw RegistryException.InvalidSchema("Schema references are not supported: register the referenced types inline.");
        }
        if (string.IsNullOrEmpty(input.Schema))
        {
            throw RegistryException.InvalidSchema("Invalid schema: the request has no schema.");
        }
        var bytes = Encoding.UTF8.GetByteCount(input.Schema);
        if (bytes > _options.MaxSchemaBytes)
        {
            throw RegistryException.SchemaTooLarge(bytes, _options.MaxSchemaBytes);
        }
        AvroSchema avro;
        try
        {
            avro = AvroCanonicalForm.Parse(input.Schema, _limits);
        }
        catch (InvalidSchemaException ex)
        {
            throw RegistryException.InvalidSchema(ex.Message);
        }
        if (normalize)
        {
            avro = AvroNormalForm.Normalize(avro);
        }
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Avro + "\n" + avro.Canonical)));
        return new ParsedSchema(avro, fingerprint);
    }

    private async Task<AvroSchema> AvroOfAsync(int id, CancellationToken cancellationToken)
    {
        if (_parsed.TryGetValue(id, out var known))
        {
            return known;
        }
        var stored = await GetSchemaAsync(id, cancellationToken);
        // Admitted when it was registered: it parses whatever the limits are now.
        return _parsed.GetOrAdd(id, AvroCanonicalForm.Parse(stored.Schema, AvroSchemaLimits.None));
    }

    private sealed record ParsedSchema(AvroSchema Avro, string Fingerprint);
}
