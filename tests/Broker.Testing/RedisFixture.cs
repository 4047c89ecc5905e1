using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;
using Testcontainers.Redis;

namespace Broker.Testing;

/// <summary>
/// One Redis server for every test in the "redis" collection of each test project, with AOF on. A Testcontainers
/// <c>redis:7</c> container when a Docker engine is reachable, otherwise (or when the container does not
/// start) a <see cref="RedisServerProcess"/>. Set <c>BROKER_TEST_REDIS=process</c> to skip Docker.
/// Tests share the server and the <see cref="Connection"/>, so each test keeps to its own
/// <see cref="NewPrefix"/>.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private const string ConnectionOptions = ",allowAdmin=true,abortConnect=false";
    private static readonly TimeSpan s_containerStartTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(30);

    private RedisContainer? _container;
    private RedisServerProcess? _process;
    private ConnectionMultiplexer? _connection;
    private long _prefixCounter;

    /// <summary>A StackExchange.Redis configuration string (<c>host:port,allowAdmin=true,abortConnect=false</c>).</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>The shared multiplexer; do not dispose it.</summary>
    public IConnectionMultiplexer Connection =>
        _connection ?? throw new InvalidOperationException("RedisFixture is not initialized.");

    /// <summary>What runs the server: <c>"testcontainers"</c> or <c>"redis-server process"</c>.</summary>
    public string Backend { get; private set; } = "";

    /// <summary>The child process when <see cref="Backend"/> is the process, else null.</summary>
    public RedisServerProcess? ServerProcess => _process;

    /// <summary>
    /// A key prefix unique to this call, such as <c>t.Append_assigns_offsets.3.9f2c1a7b:</c>. It contains only
    /// <c>[A-Za-z0-9._-]</c> before the final <c>:</c> (no braces, so it never disturbs a <c>{hash tag}</c>), so
    /// <c>prefix.TrimEnd(':')</c> is also usable as a topic name prefix.
    /// </summary>
    public string NewPrefix([System.Runtime.CompilerServices.CallerMemberName] string testName = "")
    {
        var name = new StringBuilder(testName.Length);
        foreach (var c in testName)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_');
            if (name.Length == 48)
            {
                break;
            }
        }

        var counter = Interlocked.Increment(ref _prefixCounter);
        return $"t.{(name.Length == 0 ? "test" : name)}.{counter}.{Guid.NewGuid().ToString("N")[..8]}:";
    }

    public async Task InitializeAsync()
    {
        if (await CanUseDockerAsync())
        {
            try
            {
                using var timeout = new CancellationTokenSource(s_containerStartTimeout);
                _container = new RedisBuilder("redis:7")
                    .WithCommand("redis-server", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
                    .Build();
                await _container.StartAsync(timeout.Token);
                ConnectionString = _container.GetConnectionString() + ConnectionOptions;
                Backend = "testcontainers";
            }
            catch (Exception ex)
            {
                await Console.Error.WriteLineAsync(
                    $"RedisFixture: Testcontainers could not start redis:7 ({ex.GetType().Name}: {ex.Message}); "
                    + "falling back to a local redis-server process.");
                await DisposeContainerAsync();
            }
        }

        if (_container is null)
        {
            _process = await RedisServerProcess.StartAsync(CancellationToken.None);
            ConnectionString = _process.ConnectionString;
            Backend = "redis-server process";
        }

        _connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString).WaitAsync(s_connectTimeout);
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }

        await DisposeContainerAsync();
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    private async Task DisposeContainerAsync()
    {
        if (_container is null)
        {
            return;
        }

        try
        {
            await _container.DisposeAsync();
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"RedisFixture: could not remove the Redis container: {ex.Message}");
        }

        _container = null;
    }

    /// <summary>
    /// True when a Docker engine looks reachable: <c>DOCKER_HOST</c> is set, or <c>/var/run/docker.sock</c>
    /// exists and accepts a connection within two seconds.
    /// </summary>
    private static async Task<bool> CanUseDockerAsync()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("BROKER_TEST_REDIS"), "process", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DOCKER_HOST")))
        {
            return true;
        }

        const string socketPath = "/var/run/docker.sock";
        if ((!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) || !File.Exists(socketPath))
        {
            return false;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }
}
