namespace SchemaRegistry.Storage;

/// <summary>A registered schema: global id, type, canonical text, and the fingerprint that finds it again.</summary>
public sealed record StoredSchema(int Id, string SchemaType, string Schema, string Fingerprint);

/// <summary>One version of a subject: the schema id it points at, and whether it was soft-deleted.</summary>
public sealed record StoredVersion(int Version, int Id, bool Deleted);

/// <summary>
/// A subject and its versions in version order. <see cref="Revision"/> grows with every change, and changes
/// are compare-and-set on it, so two registry instances never hand out one version number twice.
/// </summary>
public sealed record StoredSubject(string Name, int Revision, IReadOnlyList<StoredVersion> Versions)
{
    public IEnumerable<StoredVersion> Live => Versions.Where(v => !v.Deleted);

    public StoredVersion? LatestLive => Versions.LastOrDefault(v => !v.Deleted);

    /// <summary>The next version number: one past every version ever kept, soft-deleted ones included.</summary>
    public int NextVersion => Versions.Count == 0 ? 1 : Versions.Max(v => v.Version) + 1;
}

/// <summary>Outcome of asking for an id for a schema.</summary>
public enum IdOutcome
{
    /// <summary>The schema had an id already (or now got the one asked for, or a new one).</summary>
    Assigned,
    /// <summary>The schema already has another id than the one asked for (IMPORT).</summary>
    SchemaHasOtherId,
    /// <summary>The id asked for belongs to another schema (IMPORT).</summary>
    IdTaken,
}
