using System.Text.Json;
using Microsoft.Extensions.Options;

namespace SchemaRegistry.Storage;

/// <summary>
/// The registry in one JSON file, for a single instance without Redis (the one-command local run). Every
/// change rewrites the file (to a temporary file, then renamed over it, so a crash leaves the old or the
/// new state, never half of one). One lock serializes changes; reads come from memory.
/// </summary>
internal sealed class FileSchemaStore : ISchemaStore
{
    private const string GlobalField = "";
    private readonly Lock _lock = new();
    private readonly string _path;
    private RegistryDocument _state;
    private readonly Dictionary<string, int> _byFingerprint; // derived from _state.Schemas

    public FileSchemaStore(IOptions<SchemaRegistryOptions> options)
    {
        Directory.CreateDirectory(options.Value.DataDirectory);
        _path = Path.Combine(options.Value.DataDirectory, "registry.json");
        _state = File.Exists(_path)
            ? JsonSerializer.Deserialize(File.ReadAllText(_path), StoreJsonContext.Default.RegistryDocument)!
            : new RegistryDocument(0, [], new Dictionary<string, StoredSubject>(StringComparer.Ordinal), []);
        _byFingerprint = _state.Schemas.ToDictionary(s => s.Value.Fingerprint, s => s.Key, StringComparer.Ordinal);
    }

    public Task<(IdOutcome Outcome, int Id)> GetOrAssignIdAsync(
        string fingerprint, string schemaType, string schema, int? requestedId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_byFingerprint.TryGetValue(fingerprint, out var existing))
            {
                return Task.FromResult(requestedId is { } asked && asked != existing
                    ? (IdOutcome.SchemaHasOtherId, existing)
                    : (IdOutcome.Assigned, existing));
            }
            int id;
            var next = _state.NextId;
            if (requestedId is { } wanted)
            {
                if (_state.Schemas.ContainsKey(wanted))
                {
                    return Task.FromResult((IdOutcome.IdTaken, wanted));
                }
                id = wanted;
                next = Math.Max(next, wanted);
            }
            else
            {
                do
                {
                    id = ++next;
                }
                while (_state.Schemas.ContainsKey(id));
            }
            var schemas = new Dictionary<int, SchemaDocument>(_state.Schemas) { [id] = new SchemaDocument(schemaType, schema, fingerprint) };
            Commit(_state with { NextId = next, Schemas = schemas });
            _byFingerprint[fingerprint] = id;
            return Task.FromResult((IdOutcome.Assigned, id));
        }
    }

    public Task<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_state.Schemas.TryGetValue(id, out var s) ? new StoredSchema(id, s.SchemaType, s.Schema, s.Fingerprint) : null);
        }
    }

    public Task<int?> FindIdAsync(string fingerprint, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_byFingerprint.TryGetValue(fingerprint, out var id) ? id : (int?)null);
        }
    }

    public Task<StoredSubject?> GetSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_state.Subjects.GetValueOrDefault(subject));
        }
    }

    public Task<IReadOnlyList<StoredSubject>> GetSubjectsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<StoredSubject>>([.. _state.Subjects.Values.OrderBy(s => s.Name, StringComparer.Ordinal)]);
        }
    }

    public Task<bool> TrySaveSubjectAsync(string subject, int expectedRevision, IReadOnlyList<StoredVersion> versions, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var current = _state.Subjects.GetValueOrDefault(subject)?.Revision ?? 0;
            if (current != expectedRevision)
            {
                return Task.FromResult(false);
            }
            var subjects = new Dictionary<string, StoredSubject>(_state.Subjects, StringComparer.Ordinal);
            var settings = _state.Settings;
            if (versions.Count == 0)
            {
                subjects.Remove(subject);
                settings = _state.Settings.ToDictionary(k => k.Key, k => k.Value.Where(e => e.Key != subject).ToDictionary(e => e.Key, e => e.Value));
            }
            else
            {
                subjects[subject] = new StoredSubject(subject, current + 1, [.. versions]);
            }
            Commit(_state with { Subjects = subjects, Settings = settings });
            return Task.FromResult(true);
        }
    }

    public Task<string?> GetSettingAsync(string kind, string? subject, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_state.Settings.GetValueOrDefault(kind)?.GetValueOrDefault(subject ?? GlobalField));
        }
    }

    public Task<string?> SetSettingAsync(string kind, string? subject, string? value, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var settings = _state.Settings.ToDictionary(k => k.Key, k => new Dictionary<string, string>(k.Value));
            if (!settings.TryGetValue(kind, out var ofKind))
            {
                settings[kind] = ofKind = [];
            }
            ofKind.Remove(subject ?? GlobalField, out var previous);
            if (value is not null)
            {
                ofKind[subject ?? GlobalField] = value;
            }
            Commit(_state with { Settings = settings });
            return Task.FromResult(previous);
        }
    }

    private void Commit(RegistryDocument state)
    {
        var temporary = _path + ".tmp";
        try
        {
            File.WriteAllText(temporary, JsonSerializer.Serialize(state, StoreJsonContext.Default.RegistryDocument));
            File.Move(temporary, _path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SchemaStoreException(timedOut: false, ex);
        }
        _state = state;
    }
}
