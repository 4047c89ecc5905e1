namespace SchemaRegistry.Storage;

/// <summary>
/// Where the registry keeps schemas, subjects and settings. Every write that must not race (an id for a
/// schema, a subject's versions) is atomic in the store itself, so several registry instances can share it.
/// </summary>
public interface ISchemaStore
{
    /// <summary>
    /// The id of the schema with <paramref name="fingerprint"/>, giving it one when it has none: the id asked
    /// for (IMPORT) or the next free one. Ids are never reused.
    /// </summary>
    Task<(IdOutcome Outcome, int Id)> GetOrAssignIdAsync(string fingerprint, string schemaType, string schema, int? requestedId, CancellationToken cancellationToken);

    Task<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken);

    Task<int?> FindIdAsync(string fingerprint, CancellationToken cancellationToken);

    Task<StoredSubject?> GetSubjectAsync(string subject, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredSubject>> GetSubjectsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes the subject's versions if its revision is still <paramref name="expectedRevision"/> (0 for a new
    /// subject); no versions left removes the subject with its settings. False when someone changed it first.
    /// </summary>
    Task<bool> TrySaveSubjectAsync(string subject, int expectedRevision, IReadOnlyList<StoredVersion> versions, CancellationToken cancellationToken);

    /// <summary>A setting ("compatibility" or "mode") of a subject, or the global one when <paramref name="subject"/> is null.</summary>
    Task<string?> GetSettingAsync(string kind, string? subject, CancellationToken cancellationToken);

    /// <summary>Sets (or with null, removes) a setting; answers the previous value.</summary>
    Task<string?> SetSettingAsync(string kind, string? subject, string? value, CancellationToken cancellationToken);
}
