using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Security.Tests.Hosting;
using Broker.Testing;

namespace Broker.Security.Tests.Acls;

/// <summary>
/// A schema by id (GET /schemas/ids/{id} and /schema) for a principal with no say over every subject: given when it may
/// read a subject holding the schema, else refused before the schema is looked at, alike whether it exists or not
/// (Confluent's 40301), never naming the subjects that hold it.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SchemaByIdTests(RedisFixture redis)
{
    private const string RegistryType = "application/vnd.schemaregistry.v1+json";
    private const string Schema = """{"type":"record","name":"Secret","fields":[{"name":"a","type":"int"}]}""";

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(SecureBroker broker, string key, string path)
    {
        using var http = SecureBroker.Http(broker.Registry, key);
        using var response = await http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_schema_by_id_is_refused_alike_whether_it_exists_or_not_and_names_no_subject()
    {
        await using var broker = SecureBroker.Start(redis.ConnectionString, redis.NewPrefix("by-id"));
        using var admin = SecureBroker.Http(broker.Registry, SecureBroker.AdminKey);
        using var registered = await admin.PostAsync("/subjects/secret-plans-value/versions",
            new StringContent(JsonSerializer.Serialize(new { schema = Schema }), Encoding.UTF8, RegistryType));
        Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        var id = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var missing = id + 1000;
        await broker.GrantAsync("alice", "subject", "secret-plans-value", "read");

        foreach (var path in new[] { "/schemas/ids/{0}", "/schemas/ids/{0}/schema" })
        {
            var there = await GetAsync(broker, SecureBroker.BobKey, string.Format(CultureInfo.InvariantCulture, path, id));
            var absent = await GetAsync(broker, SecureBroker.BobKey, string.Format(CultureInfo.InvariantCulture, path, missing));
            Assert.Equal(HttpStatusCode.Forbidden, there.Status);
            Assert.Equal(HttpStatusCode.Forbidden, absent.Status);
            var refusal = JsonDocument.Parse(there.Body).RootElement;
            Assert.Equal(40301, refusal.GetProperty("error_code").GetInt32());
            Assert.Equal($"Principal 'bob' may not read schema {id}: it needs read on a subject that holds it.", refusal.GetProperty("message").GetString());
            Assert.Equal(there.Body.Replace($"schema {id}:", "schema ID:", StringComparison.Ordinal),
                absent.Body.Replace($"schema {missing}:", "schema ID:", StringComparison.Ordinal));
            Assert.DoesNotContain("secret-plans", there.Body, StringComparison.Ordinal);

            // Who may read a subject holding it gets it; who may read every schema is told one is missing.
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(broker, SecureBroker.AliceKey, string.Format(CultureInfo.InvariantCulture, path, id))).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(broker, SecureBroker.AliceKey, string.Format(CultureInfo.InvariantCulture, path, missing))).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(broker, SecureBroker.AdminKey, string.Format(CultureInfo.InvariantCulture, path, missing))).Status);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(broker, SecureBroker.ServiceKey, string.Format(CultureInfo.InvariantCulture, path, id))).Status);
        }

        await broker.GrantAsync("bob", "subject", "*", "read");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(broker, SecureBroker.BobKey, $"/schemas/ids/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(broker, SecureBroker.BobKey, $"/schemas/ids/{missing}")).Status);
    }
}
