using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Ingest.Tests.Produce;

public sealed class HealthTests
{
    [Fact]
    public async Task Ingest_is_not_ready_while_storage_does_not_answer_but_stays_alive()
    {
        // Nothing listens on port 1: Storage is unreachable.
        await using var ingest = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
            web.UseSetting("Ingest:StorageAddress", "http://127.0.0.1:1"));
        using var http = ingest.CreateClient();

        using var ready = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());
        using var alive = await http.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }
}
