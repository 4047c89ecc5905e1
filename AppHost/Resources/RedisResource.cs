using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Broker.AppHost.Resources;

/// <summary>redis-server on loopback: AOF on, its files in a folder of the data directory, no RDB snapshots.</summary>
internal sealed class RedisResource(string serverPath, int port, string directory) : Resource("redis")
{
    public int Port { get; } = port;

    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public override IReadOnlyList<string> Endpoints => [$"redis {ConnectionString} (AOF in {directory})"];

    public override ProcessStartInfo CreateStartInfo()
    {
        Directory.CreateDirectory(directory);
        return new ProcessStartInfo(serverPath,
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
             "--appendonly", "yes", "--save", "", "--protected-mode", "yes"]);
    }

    /// <summary>PING answered with PONG.</summary>
    public override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return false;
        }
    }

    /// <summary>redis-server: the configured path, else the first one on PATH; null when there is none.</summary>
    public static string? Find(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : null;
        }
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
