using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Storage.Topics;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Storage.Tests.Topics;

/// <summary>
/// PUT /v1/topics/{topic} with authentication on does only what the caller's right was checked for: create when the
/// topic was missing, alter when it existed. Another caller creating or deleting the topic between the check and the
/// write (made to happen here at that moment, through a topic store that does it on cue) is answered 409 for a caller
/// without the other right, and is the other change for one with both.
/// </summary>
public sealed class TopicPutRaceTests : IAsyncDisposable
{
    private const string AdminKey = "admin-key-0123456789abcdef";
    private const string AliceKey = "alice-key-0123456789abcdef";

    private readonly WebApplicationFactory<Program> _storage;

    public TopicPutRaceTests()
    {
        _storage = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Storage:HotTier", "memory");
            web.UseSetting("Storage:KeyPrefix", "put-race");
            web.UseSetting("Storage:Segments:Store", "none");
            web.UseSetting("Auth:Keys:admin", AdminKey);
            web.UseSetting("Auth:Keys:alice", AliceKey);
            web.UseSetting("Auth:Superusers:0", "admin");
            web.ConfigureTestServices(services =>
            {
                var real = services.Last(s => s.ServiceType == typeof(ITopicStore));
                services.Remove(real);
                services.AddSingleton(sp => new RacingStore((ITopicStore)ActivatorUtilities.CreateInstance(sp, real.ImplementationType!)));
                services.AddSingleton<ITopicStore>(sp => sp.GetRequiredService<RacingStore>());
            });
        });
    }

    public async ValueTask DisposeAsync() => await _storage.DisposeAsync();

    /// <summary>The real store, which runs <see cref="Race"/> once, just before the second look at <see cref="Topic"/> (the PUT's write).</summary>
    private sealed class RacingStore(ITopicStore inner) : ITopicStore
    {
        private int _looks;

        public string? Topic { get; private set; }

        public Func<Task>? Race { get; private set; }

        public void Arm(string topic, Func<Task> race) => (Topic, Race, _looks) = (topic, race, 0);

        public async Task<TopicConfig?> GetAsync(string name, CancellationToken cancellationToken)
        {
            if (name == Topic && Interlocked.Increment(ref _looks) == 2 && Race is { } race)
            {
                Race = null;
                await race();
            }
            return await inner.GetAsync(name, cancellationToken);
        }

        public Task<IReadOnlyList<TopicConfig>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

        public Task<TopicWrite> TryCreateAsync(TopicConfig config, TopicLimits limits, CancellationToken cancellationToken) =>
            inner.TryCreateAsync(config, limits, cancellationToken);

        public Task<TopicWrite> TryUpdateAsync(TopicConfig current, TopicConfig updated, TopicLimits limits, CancellationToken cancellationToken) =>
            inner.TryUpdateAsync(current, updated, limits, cancellationToken);

        public Task<bool> DeleteAsync(TopicConfig topic, CancellationToken cancellationToken) => inner.DeleteAsync(topic, cancellationToken);

        public Task<TopicTotals> TotalsAsync(CancellationToken cancellationToken) => inner.TotalsAsync(cancellationToken);
    }

    private HttpClient Client(string key)
    {
        var http = _storage.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private async Task GrantAsync(string operation, string topic)
    {
        using var admin = Client(AdminKey);
        using var granted = await admin.PostAsJsonAsync("/v1/acls",
            new { principal = "alice", resource = new { type = "topic", name = topic, pattern = "literal" }, operations = new[] { operation }, permission = "allow" });
        Assert.True(granted.IsSuccessStatusCode, await granted.Content.ReadAsStringAsync());
    }

    /// <summary>Arms the store: another caller creates (or deletes) the topic between the PUT's check and its write.</summary>
    private void ArmOtherCaller(string topic, bool creates) =>
        _storage.Services.GetRequiredService<RacingStore>().Arm(topic, async () =>
        {
            var registry = _storage.Services.GetRequiredService<TopicRegistry>();
            if (creates)
            {
                await registry.CreateIfMissingAsync(topic, new TopicSpec { Partitions = 1 }, CancellationToken.None);
            }
            else
            {
                Assert.True(await registry.DeleteAsync(topic, CancellationToken.None));
            }
        });

    private async Task<int?> PartitionsAsync(string topic)
    {
        using var admin = Client(AdminKey);
        using var response = await admin.GetAsync($"/v1/topics/{topic}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partitions").GetInt32();
    }

    [Fact]
    public async Task A_principal_who_may_only_create_does_not_alter_a_topic_created_meanwhile()
    {
        await GrantAsync("create", "raced-create");
        ArmOtherCaller("raced-create", creates: true);
        using var alice = Client(AliceKey);
        using var put = await alice.PutAsJsonAsync("/v1/topics/raced-create", new { partitions = 3 });
        var body = await put.Content.ReadAsStringAsync();
        Assert.True(put.StatusCode == HttpStatusCode.Conflict, $"{(int)put.StatusCode}: {body}");
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal("The topic was created or deleted meanwhile.", problem.GetProperty("title").GetString());
        Assert.Contains("Topic 'raced-create' was created by another caller after this request was checked for creating it.",
            problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("Principal 'alice' may not alter topic 'raced-create'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await PartitionsAsync("raced-create")); // as the other caller made it
    }

    [Fact]
    public async Task A_principal_who_may_only_alter_does_not_create_a_topic_deleted_meanwhile()
    {
        using (var admin = Client(AdminKey))
        {
            (await admin.PutAsJsonAsync("/v1/topics/raced-alter", new { partitions = 1 })).EnsureSuccessStatusCode();
        }
        await GrantAsync("alter", "raced-alter");
        ArmOtherCaller("raced-alter", creates: false);
        using var alice = Client(AliceKey);
        using var put = await alice.PutAsJsonAsync("/v1/topics/raced-alter", new { partitions = 2 });
        var body = await put.Content.ReadAsStringAsync();
        Assert.True(put.StatusCode == HttpStatusCode.Conflict, $"{(int)put.StatusCode}: {body}");
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString();
        Assert.Contains("Topic 'raced-alter' was deleted after this request was checked for changing it.", detail, StringComparison.Ordinal);
        Assert.Contains("Principal 'alice' may not create topic 'raced-alter'", detail, StringComparison.Ordinal);
        Assert.Null(await PartitionsAsync("raced-alter"));
    }

    [Fact]
    public async Task A_caller_with_both_rights_gets_the_other_change()
    {
        ArmOtherCaller("raced-admin", creates: true);
        using var admin = Client(AdminKey);
        using (var put = await admin.PutAsJsonAsync("/v1/topics/raced-admin", new { partitions = 3 }))
        {
            Assert.True(put.StatusCode == HttpStatusCode.OK, $"{(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }
        Assert.Equal(3, await PartitionsAsync("raced-admin"));

        ArmOtherCaller("raced-admin", creates: false);
        using (var put = await admin.PutAsJsonAsync("/v1/topics/raced-admin", new { partitions = 4 }))
        {
            Assert.True(put.StatusCode == HttpStatusCode.Created, $"{(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }
        Assert.Equal(4, await PartitionsAsync("raced-admin"));
    }
}
