namespace SchemaRegistry.Registry;

/// <summary>
/// A refusal with the Confluent registry's HTTP status and error code; the body is exactly
/// <c>{"error_code": ErrorCode, "message": Message}</c>.
/// </summary>
public sealed class RegistryException(int status, int errorCode, string message) : Exception(message)
{
    public int Status { get; } = status;
    public int ErrorCode { get; } = errorCode;

    public static RegistryException SubjectNotFound(string subject) => new(404, 40401, $"Subject '{subject}' not found.");
    public static RegistryException VersionNotFound(string subject, string version) => new(404, 40402, $"Version {version} not found for subject '{subject}'.");
    public static RegistryException SchemaNotFound(string what) => new(404, 40403, what);
    public static RegistryException SubjectSoftDeleted(string subject) =>
        new(404, 40404, $"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently");
    public static RegistryException SubjectNotSoftDeleted(string subject) =>
        new(404, 40405, $"Subject '{subject}' was not deleted first before being permanently deleted");
    public static RegistryException VersionSoftDeleted(string subject, int version) =>
        new(404, 40406, $"Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently");
    public static RegistryException VersionNotSoftDeleted(string subject, int version) =>
        new(404, 40407, $"Subject '{subject}' Version {version} was not deleted first before being permanently deleted");
    public static RegistryException NoSubjectCompatibility(string subject) =>
        new(404, 40408, $"Subject '{subject}' does not have subject-level compatibility configured");
    public static RegistryException NoSubjectMode(string subject) => new(404, 40409, $"Subject '{subject}' does not have subject-level mode configured");
    public static RegistryException Incompatible(string message) => new(409, 40901, message);
    public static RegistryException InvalidSchema(string message) => new(422, 42201, message);
    public static RegistryException InvalidVersion(string version) => new(422, 42202,
        $"The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");
    public static RegistryException InvalidCompatibility(string? level) => new(422, 42203,
        $"Invalid compatibility level '{level}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive");
    public static RegistryException InvalidMode(string? mode) => new(422, 42204,
        $"Invalid mode '{mode}'. Valid values are READWRITE, READONLY and IMPORT");
    public static RegistryException NotPermitted(string message) => new(422, 42205, message);
    public static RegistryException IdConflict(string message) => new(422, 42207, message);
    public static RegistryException InvalidSubject(string subject) => new(422, 42208, $"The specified subject '{subject}' is not a valid subject.");
    public static RegistryException SchemaTooLarge(int bytes, int limit) => new(422, 42209,
        $"The schema is {bytes} bytes; the limit (SchemaRegistry:MaxSchemaBytes) is {limit}.");
    public static RegistryException Store(string message) => new(500, 50001, "Error in the backend data store: " + message);
}
