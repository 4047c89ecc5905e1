using Broker.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using SchemaRegistry.Storage;
using SchemaRegistry.Tests.Hosting;

namespace SchemaRegistry.Tests.Api;

/// <summary>
/// GET /schemas/ids/{id} is what every deserializer, and Ingest validating each produce, asks: for a caller every check
/// allows (an open registry, a superuser, the services' key) it reads the schema once and nothing else, not every
/// subject to find who holds it.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SchemaByIdCostTests(RedisFixture redis)
{
    private const string Schema = """{"type":"record","name":"Cost","fields":[{"name":"id","type":"long"}]}""";
    private const string AdminKey = "admin-key-0123456789abcdef";
    private const string ServiceKey = "service-key-0123456789abcdef";

    /// <summary>The real store, counting the reads a schema by id may cost.</summary>
    private sealed class CountingStore(ISchemaStore inner) : ISchemaStore
    {
        public int SchemaReads;
        public int SubjectScans;

        public Task<(IdOutcome Outcome, int Id)> GetOrAssignIdAsync(string fingerprint, string schemaType, string schema, int? requestedId, CancellationToken cancellationToken) =>
            inner.GetOrAssignIdAsync(fingerprint, schemaType, schema, requestedId, cancellationToken);

        public Task<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref SchemaReads);
            return inner.GetSchemaAsync(id, cancellationToken);
        }

        public Task<int?> FindIdAsync(string fingerprint, CancellationToken cancellationToken) => inner.FindIdAsync(fingerprint, cancellationToken);

        public Task<StoredSubject?> GetSubjectAsync(string subject, CancellationToken cancellationToken) => inner.GetSubjectAsync(subject, cancellationToken);

        public Task<IReadOnlyList<StoredSubject>> GetSubjectsAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref SubjectScans);
            return inner.GetSubjectsAsync(cancellationToken);
        }

        public Task<bool> TrySaveSubjectAsync(string subject, int expectedRevision, IReadOnlyList<StoredVersion> versions, CancellationToken cancellationToken) =>
            inner.TrySaveSubjectAsync(subject, expectedRevision, versions, cancellationToken);

        public Task<string?> GetSettingAsync(string kind, string? subject, CancellationToken cancellationToken) => inner.GetSettingAsync(kind, subject, cancellationToken);

        public Task<string?> SetSettingAsync(string kind, string? subject, string? value, CancellationToken cancellationToken) =>
            inner.SetSettingAsync(kind, subject, value, cancellationToken);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(AdminKey)]
    [InlineData(ServiceKey)]
    public async Task A_schema_by_id_costs_one_read_for_a_caller_every_check_allows(string? key)
    {
        // With keys, the registry watches Storage's ACLs: there is no Storage here, and superusers and the service need none.
        var settings = key is null ? new Dictionary<string, string>() : new Dictionary<string, string>
        {
            ["Auth:Keys:admin"] = AdminKey,
            ["Auth:Superusers:0"] = "admin",
            ["Auth:ServiceKey"] = ServiceKey,
            ["SchemaRegistry:StorageAddress"] = $"http://127.0.0.1:{LoopbackPort.Free()}",
        };
        CountingStore? counting = null;
        await using var registry = RegistryHost.OnRedis(redis.ConnectionString, redis.NewPrefix("by-id"), settings, web => web.ConfigureTestServices(services =>
        {
            var real = services.Last(s => s.ServiceType == typeof(ISchemaStore));
            services.Remove(real);
            services.AddSingleton<ISchemaStore>(sp => counting = new CountingStore(real.ImplementationFactory is { } make
                ? (ISchemaStore)make(sp)
                : (ISchemaStore)ActivatorUtilities.CreateInstance(sp, real.ImplementationType!)));
        }));
        if (key is not null)
        {
            registry.Http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }
        var registered = await registry.RegisterAsync("cost-value", Schema);
        Assert.Equal(200, registered.Status);
        var id = registered.Body.GetProperty("id").GetInt32();
        await registry.RegisterAsync("other-value", """{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}""");

        var (reads, scans) = (counting!.SchemaReads, counting.SubjectScans);
        Assert.Equal(200, (await registry.SendAsync(HttpMethod.Get, $"/schemas/ids/{id}")).Status);
        using (var raw = await registry.Http.GetAsync($"/schemas/ids/{id}/schema"))
        {
            Assert.True(raw.IsSuccessStatusCode);
        }
        RegistryHost.AssertError(await registry.SendAsync(HttpMethod.Get, "/schemas/ids/999999"), 404, 40403);
        Assert.Equal(3, counting.SchemaReads - reads);
        Assert.Equal(0, counting.SubjectScans - scans);
    }
}
