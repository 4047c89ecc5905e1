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
        app.MapGet("/", () => RegistryHttp.Json(new Dictionary<string, string>(), J.DictionaryStringString));

        app.MapGet("/subjects", ListSubjects);
        app.MapGet("/subjects/{subject}/versions", ListVersions);
        app.MapPost("/subjects/{subject}/versions", Register);
        app.MapPost("/subjects/{subject}", Lookup);
        app.MapGet("/subjects/{subject}/versions/{version}", GetVersion);
        app.MapGet("/subjects/{subject}/versions/{version}/schema", GetVersionSchema);
        app.MapGet("/subjects/{subject}/versions/{version}/referencedby", ReferencedBy);
        app.MapDelete("/subjects/{subject}", DeleteSubject);
        app.MapDelete("/subjects/{subject}/versions/{version}", DeleteVersion);

        app.MapGet("/schemas", ListSchemas);
        app.MapGet("/schemas/types", () => RegistryHttp.Json<IReadOnlyList<string>>([SchemaRegistryService.Avro], J.IReadOnlyListString));
        app.MapGet("/schemas/ids/{id:int}", GetSchema);
        app.MapGet("/schemas/ids/{id:int}/schema", GetRawSchema);
        app.MapGet("/schemas/ids/{id:int}/versions", VersionsOfSchema);
        app.MapGet("/schemas/ids/{id:int}/subjects", SubjectsOfSchema);

        app.MapGet("/config", GetConfig);
        app.MapPut("/config", PutConfig);
        app.MapDelete("/config", DeleteConfig);
        app.MapGet("/config/{subject}", GetConfig);
        app.MapPut("/config/{subject}", PutConfig);
        app.MapDelete("/config/{subject}", DeleteConfig);

        app.MapGet("/mode", GetMode);
        app.MapPut("/mode", PutMode);
        app.MapDelete("/mode", DeleteMode);
        app.MapGet("/mode/{subject}", GetMode);
        app.MapPut("/mode/{subject}", PutMode);
        app.MapDelete("/mode/{subject}", DeleteMode);

        app.MapPost("/compatibility/subjects/{subject}/versions/{version}", CheckAgainstVersion);
        app.MapPost("/compatibility/subjects/{subject}/versions", CheckAgainstAll);
        return app;
    }

    // ---- subjects -----------------------------------------------------------------------------------------

    public static async Task<IResult> ListSubjects(HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var subjects = await registry.ListSubjectsAsync(request.Query["subjectPrefix"].FirstOrDefault(),
            RegistryHttp.Flag(request, "deleted"), RegistryHttp.Flag(request, "deletedOnly"), cancellationToken);
        return RegistryHttp.Json(Page(subjects, request), J.IReadOnlyListString);
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

    public static async Task<IResult> ListSchemas(HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var schemas = await registry.ListSchemasAsync(request.Query["subjectPrefix"].FirstOrDefault(), RegistryHttp.Flag(request, "deleted"),
            RegistryHttp.Flag(request, "latestOnly"), cancellationToken);
        return RegistryHttp.Json(Page([.. schemas.Select(SchemaResponse.From)], request), J.IReadOnlyListSchemaResponse);
    }

    public static async Task<IResult> GetSchema(int id, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var schema = await registry.GetSchemaAsync(id, cancellationToken);
        return RegistryHttp.Json(new SchemaResponse(null, null, null, SchemaResponse.TypeField(schema.SchemaType), schema.Schema), J.SchemaResponse);
    }

    public static async Task<IResult> GetRawSchema(int id, SchemaRegistryService registry, CancellationToken cancellationToken) =>
        RegistryHttp.Raw((await registry.GetSchemaAsync(id, cancellationToken)).Schema);

    public static async Task<IResult> VersionsOfSchema(int id, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var versions = await registry.VersionsOfAsync(id, RegistryHttp.Flag(request, "deleted"), cancellationToken);
        return RegistryHttp.Json<IReadOnlyList<SubjectVersionRef>>([.. versions.Select(v => new SubjectVersionRef(v.Subject, v.Version))], J.IReadOnlyListSubjectVersionRef);
    }

    public static async Task<IResult> SubjectsOfSchema(int id, HttpRequest request, SchemaRegistryService registry, CancellationToken cancellationToken)
    {
        var versions = await registry.VersionsOfAsync(id, RegistryHttp.Flag(request, "deleted"), cancellationToken);
        return RegistryHttp.Json<IReadOnlyList<string>>([.. versions.Select(v => v.Subject).Distinct()], J.IReadOnlyListString);
    }

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
