using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using SchemaRegistry.Registry;

namespace SchemaRegistry.Apis;

/// <summary>
/// The Confluent Schema Registry REST API at the root: subjects and versions, schemas by id, config, mode,
/// compatibility. Answers and errors in Confluent's shapes (see <see cref="RegistryHttp"/>).
/// </summary>
internal static class RegistryApi
{
    private static RegistryJsonContext J => RegistryJsonContext.Relaxed;

    public static WebApplication MapRegistryApi(this WebApplication app)
    {
        // Rights as Confluent's RBAC gives them: read a subject to read or check against it, write to register, delete to
        // delete, alter to change its own config or mode; a schema by id needs read on a subject that holds it; the global
        // config and mode are the cluster's (alter to change, describe to read).
        app.MapGet("/", () => RegistryHttp.Json(new Dictionary<string, string>(), J.DictionaryStringString)).ChecksAclsInHandler("none: any principal");

        app.MapGet("/subjects", ListSubjects).ChecksAclsInHandler("lists the subjects the caller may describe");
        app.MapGet("/subjects/{subject}/versions", ListVersions).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapPost("/subjects/{subject}/versions", Register).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Write);
        app.MapPost("/subjects/{subject}", Lookup).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapGet("/subjects/{subject}/versions/{version}", GetVersion).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapGet("/subjects/{subject}/versions/{version}/schema", GetVersionSchema).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapGet("/subjects/{subject}/versions/{version}/referencedby", ReferencedBy).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapDelete("/subjects/{subject}", DeleteSubject).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Delete);
        app.MapDelete("/subjects/{subject}/versions/{version}", DeleteVersion).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Delete);

        app.MapGet("/schemas", ListSchemas).ChecksAclsInHandler("lists the schemas of subjects the caller may read");
        app.MapGet("/schemas/types", () => RegistryHttp.Json<IReadOnlyList<string>>([SchemaRegistryService.Avro], J.IReadOnlyListString))
            .ChecksAclsInHandler("none: any principal");
        app.MapGet("/schemas/ids/{id:int}", GetSchema).ChecksAclsInHandler("read on a subject that holds the schema");
        app.MapGet("/schemas/ids/{id:int}/schema", GetRawSchema).ChecksAclsInHandler("read on a subject that holds the schema");
        app.MapGet("/schemas/ids/{id:int}/versions", VersionsOfSchema).ChecksAclsInHandler("lists the subjects the caller may describe");
        app.MapGet("/schemas/ids/{id:int}/subjects", SubjectsOfSchema).ChecksAclsInHandler("lists the subjects the caller may describe");

        app.MapGet("/config", GetConfig).RequireClusterAcl(AclOperation.Describe);
        app.MapPut("/config", PutConfig).RequireClusterAcl(AclOperation.Alter);
        app.MapDelete("/config", DeleteConfig).RequireClusterAcl(AclOperation.Alter);
        app.MapGet("/config/{subject}", GetConfig).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Describe);
        app.MapPut("/config/{subject}", PutConfig).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Alter);
        app.MapDelete("/config/{subject}", DeleteConfig).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Alter);

        app.MapGet("/mode", GetMode).RequireClusterAcl(AclOperation.Describe);
        app.MapPut("/mode", PutMode).RequireClusterAcl(AclOperation.Alter);
        app.MapDelete("/mode", DeleteMode).RequireClusterAcl(AclOperation.Alter);
        app.MapGet("/mode/{subject}", GetMode).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Describe);
        app.MapPut("/mode/{subject}", PutMode).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Alter);
        app.MapDelete("/mode/{subject}", DeleteMode).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Alter);

        app.MapPost("/compatibility/subjects/{subject}/versions/{version}", CheckAgainstVersion).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        app.MapPost("/compatibility/subjects/{subject}/versions", CheckAgainstAll).RequireAcl(AclResourceType.Subject, "subject", AclOperation.Read);
        return app;
    }

    // ---- subjects -----------------------------------------------------------------------------------------

    public static async Task<IResult> ListSubjects(HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        var subjects = await registry.ListSubjectsAsync(request.Query["subjectPrefix"].FirstOrDefault(),
            RegistryHttp.Flag(request, "deleted"), RegistryHttp.Flag(request, "deletedOnly"), cancellationToken);
        return RegistryHttp.Json(Page([.. subjects.Where(s => Describable(access, request, s))], request), J.IReadOnlyListString);
    }

    public static async Task<IResult> ListVersions(string subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var versions = await registry.ListVersionsAsync(subject, RegistryHttp.Flag(request, "deleted"), RegistryHttp.Flag(request, "deletedOnly"),
            RegistryHttp.Flag(request, "deletedAsNegative"), cancellationToken);
        return RegistryHttp.Json(versions, J.IReadOnlyListInt32);
    }

    public static async Task<IResult> Register(string subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var body = await RegistryHttp.ReadAsync(request, J.SchemaRequest, cancellationToken);
        var (id, _) = await registry.RegisterAsync(subject, body.ToInput(), RegistryHttp.Flag(request, "force"), RegistryHttp.Flag(request, "normalize"), cancellationToken);
        return RegistryHttp.Json(new IdResponse(id), J.IdResponse);
    }

    public static async Task<IResult> Lookup(string subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var body = await RegistryHttp.ReadAsync(request, J.SchemaRequest, cancellationToken);
        var found = await registry.LookupAsync(subject, body.ToInput(), RegistryHttp.Flag(request, "deleted"), RegistryHttp.Flag(request, "normalize"), cancellationToken);
        return RegistryHttp.Json(SchemaResponse.From(found), J.SchemaResponse);
    }

    public static async Task<IResult> GetVersion(string subject, string version, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(SchemaResponse.From(await registry.GetVersionAsync(subject, version, RegistryHttp.Flag(request, "deleted"), cancellationToken)), J.SchemaResponse);

    public static async Task<IResult> GetVersionSchema(string subject, string version, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Raw((await registry.GetVersionAsync(subject, version, RegistryHttp.Flag(request, "deleted"), cancellationToken)).Schema);

    /// <summary>References are not supported, so nothing refers to a version; the version must exist.</summary>
    public static async Task<IResult> ReferencedBy(string subject, string version, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        await registry.GetVersionAsync(subject, version, deleted: false, cancellationToken);
        return RegistryHttp.Json<IReadOnlyList<int>>([], J.IReadOnlyListInt32);
    }

    public static async Task<IResult> DeleteSubject(string subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(await registry.DeleteSubjectAsync(subject, RegistryHttp.Flag(request, "permanent"), cancellationToken), J.IReadOnlyListInt32);

    public static async Task<IResult> DeleteVersion(string subject, string version, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(await registry.DeleteVersionAsync(subject, version, RegistryHttp.Flag(request, "permanent"), cancellationToken), J.Int32);

    // ---- schemas ------------------------------------------------------------------------------------------

    public static async Task<IResult> ListSchemas(HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        var schemas = await registry.ListSchemasAsync(request.Query["subjectPrefix"].FirstOrDefault(), RegistryHttp.Flag(request, "deleted"),
            RegistryHttp.Flag(request, "latestOnly"), cancellationToken);
        return RegistryHttp.Json(Page([.. schemas.Where(v => Readable(access, request, v.Subject)).Select(SchemaResponse.From)], request), J.IReadOnlyListSchemaResponse);
    }

    public static async Task<IResult> GetSchema(int id, HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        if (await SchemaRefusalAsync(id, request, registry, access, cancellationToken) is { } refused)
        {
            return refused;
        }
        var schema = await registry.GetSchemaAsync(id, cancellationToken);
        return RegistryHttp.Json(new SchemaResponse(null, null, null, SchemaResponse.TypeField(schema.SchemaType), schema.Schema), J.SchemaResponse);
    }

    public static async Task<IResult> GetRawSchema(int id, HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken) =>
        await SchemaRefusalAsync(id, request, registry, access, cancellationToken) ?? RegistryHttp.Raw((await registry.GetSchemaAsync(id, cancellationToken)).Schema);

    public static async Task<IResult> VersionsOfSchema(int id, HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        var versions = await registry.VersionsOfAsync(id, RegistryHttp.Flag(request, "deleted"), cancellationToken);
        return RegistryHttp.Json<IReadOnlyList<SubjectVersionRef>>(
            [.. versions.Where(v => Describable(access, request, v.Subject)).Select(v => new SubjectVersionRef(v.Subject, v.Version))], J.IReadOnlyListSubjectVersionRef);
    }

    public static async Task<IResult> SubjectsOfSchema(int id, HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        var versions = await registry.VersionsOfAsync(id, RegistryHttp.Flag(request, "deleted"), cancellationToken);
        return RegistryHttp.Json<IReadOnlyList<string>>([.. versions.Select(v => v.Subject).Distinct().Where(s => Describable(access, request, s))], J.IReadOnlyListString);
    }

    /// <summary>
    /// A schema by id is anyone's who may read a subject that holds it (what a consumer's deserializer asks for). Null
    /// when the caller may have it, at once for callers every check allows (an open broker, the service key, e.g.
    /// Ingest validating each produce, a superuser): nothing but the schema is looked up for them. Anyone else is
    /// answered before the schema is looked at, and alike whether it exists or not: 403 (40301) naming the right it
    /// needs, not the subjects that hold it (the audit line names the first of them).
    /// </summary>
    private static async Task<IResult?> SchemaRefusalAsync(int id, HttpRequest request, SchemaRegistryService registry, AccessControl access, CancellationToken cancellationToken)
    {
        var user = request.HttpContext.User;
        if (access.IsUnrestricted(user))
        {
            return null;
        }
        var subjects = await registry.SubjectsHoldingAsync(id, cancellationToken);
        if (subjects.Any(s => Readable(access, request, s)))
        {
            return null;
        }
        // Asked once more through the audited check, as every refusal is; a caller who may read every subject (a '*'
        // ACL) may also be told that no schema has the id.
        var decision = access.Decide(user, AclResourceType.Subject, subjects.Count > 0 ? subjects[0] : $"(schema {id})", AclOperation.Read);
        return decision.Outcome switch
        {
            AccessOutcome.Allowed => null,
            AccessOutcome.Denied => access.Refuse(request.HttpContext, StatusCodes.Status403Forbidden,
                $"Principal '{user.Name()}' may not read schema {id}: it needs read on a subject that holds it."),
            _ => access.Refuse(request.HttpContext, StatusCodes.Status503ServiceUnavailable, decision.Message),
        };
    }

    private static bool Readable(AccessControl access, HttpRequest request, string subject) =>
        access.Allows(request.HttpContext.User, AclResourceType.Subject, subject, AclOperation.Read);

    private static bool Describable(AccessControl access, HttpRequest request, string subject) =>
        access.Allows(request.HttpContext.User, AclResourceType.Subject, subject, AclOperation.Describe);

    // ---- config and mode ----------------------------------------------------------------------------------

    public static async Task<IResult> GetConfig(string? subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(ConfigResponse.From(await registry.GetConfigAsync(subject, RegistryHttp.Flag(request, "defaultToGlobal"), cancellationToken)), J.ConfigResponse);

    public static async Task<IResult> PutConfig(string? subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var body = await RegistryHttp.ReadAsync(request, J.ConfigRequest, cancellationToken);
        var set = await registry.SetConfigAsync(subject, body.Compatibility, body.Normalize, cancellationToken);
        return RegistryHttp.Json(new ConfigRequest(set.CompatibilityLevel, set.Normalize), J.ConfigRequest);
    }

    public static async Task<IResult> DeleteConfig(string? subject, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(ConfigResponse.From(await registry.DeleteConfigAsync(subject, cancellationToken)), J.ConfigResponse);

    public static async Task<IResult> GetMode(string? subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(new ModeBody(await registry.GetModeAsync(subject, RegistryHttp.Flag(request, "defaultToGlobal"), cancellationToken)), J.ModeBody);

    public static async Task<IResult> PutMode(string? subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var body = await RegistryHttp.ReadAsync(request, J.ModeBody, cancellationToken);
        return RegistryHttp.Json(new ModeBody(await registry.SetModeAsync(subject, body.Mode, RegistryHttp.Flag(request, "force"), cancellationToken)), J.ModeBody);
    }

    public static async Task<IResult> DeleteMode(string? subject, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Json(new ModeBody(await registry.DeleteModeAsync(subject, cancellationToken)), J.ModeBody);

    // ---- compatibility ------------------------------------------------------------------------------------

    public static Task<IResult> CheckAgainstVersion(string subject, string version, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        CheckAsync(subject, version, request, registry, cancellationToken);

    public static Task<IResult> CheckAgainstAll(string subject, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        CheckAsync(subject, null, request, registry, cancellationToken);

    private static async Task<IResult> CheckAsync(string subject, string? version, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var body = await RegistryHttp.ReadAsync(request, J.SchemaRequest, cancellationToken);
        var verbose = RegistryHttp.Flag(request, "verbose");
        var (compatible, messages) = await registry.TestCompatibilityAsync(subject, version, body.ToInput(), verbose, RegistryHttp.Flag(request, "normalize"), cancellationToken);
        return RegistryHttp.Json(new CompatibilityResponse(compatible, verbose ? messages : null), J.CompatibilityResponse);
    }

    /// <summary>?offset and ?limit (Confluent's paging of lists); absent or negative limit: everything.</summary>
    private static IReadOnlyList<T> Page<T>(IReadOnlyList<T> items, HttpRequest request)
    {
        var offset = int.TryParse(request.Query["offset"], out var o) && o > 0 ? o : 0;
        var limit = int.TryParse(request.Query["limit"], out var l) && l >= 0 ? l : int.MaxValue;
        return [.. items.Skip(offset).Take(limit)];
    }
}
