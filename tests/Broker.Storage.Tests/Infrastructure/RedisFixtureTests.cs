using Broker.Testing;
using StackExchange.Redis;

namespace Broker.Storage.Tests.Infrastructure;

[Collection(RedisCollection.Name)]
public sealed class RedisFixtureTests(RedisFixture fixture)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SharedServerAnswersPing()
    {
        var latency = await fixture.Connection.GetDatabase().PingAsync();

        Assert.True(latency >= TimeSpan.Zero);
    }

    [Fact]
    public async Task SharedServerHasAofOn()
    {
        var server = fixture.Connection.GetServer(fixture.Connection.GetEndPoints()[0]);

        var appendOnly = await server.ConfigGetAsync("appendonly");

        Assert.Equal("yes", Assert.Single(appendOnly).Value);
    }

    [Fact]
    public void NewPrefixIsUniqueAndHasNoHashTagBraces()
    {
        var first = fixture.NewPrefix();
        var second = fixture.NewPrefix();

        Assert.NotEqual(first, second);
        Assert.Contains(nameof(NewPrefixIsUniqueAndHasNoHashTagBraces), first, StringComparison.Ordinal);
        Assert.EndsWith(":", first, StringComparison.Ordinal);
        Assert.DoesNotContain('{', fixture.NewPrefix("odd {name}: with spaces"));
    }

    [Fact]
    public async Task ValueWrittenSurvivesShutdownAndRestart()
    {
        using var cts = new CancellationTokenSource(s_timeout);
        await using var server = await RedisServerProcess.StartAsync(cts.Token);
        var key = fixture.NewPrefix() + "durable";

        await using (var before = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            Assert.True(await before.GetDatabase().StringSetAsync(key, "survives"));
        }

        var port = server.Port;
        await server.ShutdownAsync();
        Assert.False(server.IsRunning);
        Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "appendonlydir")));

        await server.RestartAsync(cts.Token);

        Assert.Equal(port, server.Port);
        await using var after = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        Assert.Equal("survives", (string?)await after.GetDatabase().StringGetAsync(key));
    }

    [Fact]
    public async Task DisposeStopsTheServerAndDeletesItsDirectory()
    {
        using var cts = new CancellationTokenSource(s_timeout);
        var server = await RedisServerProcess.StartAsync(cts.Token);
        var directory = server.DataDirectory;

        await server.DisposeAsync();

        Assert.False(server.IsRunning);
        Assert.False(Directory.Exists(directory));
    }
}
