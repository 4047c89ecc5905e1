using System.Net;
using System.Text.Json;
using Broker.Delivery.Dapr;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Delivery.Tests.Consume;

/// <summary>
/// A failure nobody expected answers 500 problem details (ServiceDefaults' exception handler) that say nothing of
/// the failure in Production: no exception message, type or stack, whatever the exception carried.
/// </summary>
public sealed class ServerErrorTests
{
    private const string Secret = "redis.internal:6379 said NOAUTH to user broker";

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task An_unexpected_failure_is_a_bare_500_problem(string environment)
    {
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment(environment);
            web.UseSetting("Delivery:StorageAddress", "http://127.0.0.1:1");
            web.ConfigureTestServices(services => services.AddSingleton<IDaprAppStore>(new FailingStore()));
        });
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/v1/apps/anything", UriKind.Relative));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(500, problem.GetProperty("status").GetInt32());
        Assert.DoesNotContain("NOAUTH", body, StringComparison.Ordinal);
        Assert.DoesNotContain("6379", body, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", body, StringComparison.Ordinal);
        Assert.DoesNotContain("FailingStore", body, StringComparison.Ordinal);
        Assert.False(problem.TryGetProperty("detail", out _), body);
        Assert.False(problem.TryGetProperty("exception", out _), body);
    }

    private sealed class FailingStore : IDaprAppStore
    {
        public Task<IReadOnlyList<DaprApp>> ListAsync(CancellationToken cancellationToken) => throw new InvalidOperationException(Secret);

        public Task<DaprApp?> GetAsync(string appId, CancellationToken cancellationToken) => throw new InvalidOperationException(Secret);

        public Task PutAsync(DaprApp app, CancellationToken cancellationToken) => throw new InvalidOperationException(Secret);

        public Task<bool> DeleteAsync(string appId, CancellationToken cancellationToken) => throw new InvalidOperationException(Secret);
    }
}
