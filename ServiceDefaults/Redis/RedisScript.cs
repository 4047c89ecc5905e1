using System.Security.Cryptography;
using StackExchange.Redis;

namespace Broker.ServiceDefaults.Redis;

/// <summary>
/// A Lua script run by EVALSHA with its hash computed locally, falling back to EVAL (which also caches
/// it) when the server answers NOSCRIPT, e.g. after a restart. Works the same on every node of a cluster.
/// Shared by every service that keeps state in Redis.
/// </summary>
public sealed class RedisScript(string source)
{
#pragma warning disable CA5350 // SHA-1 is what Redis names scripts by, not a security measure.
    private readonly byte[] _sha1 = SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(source));
#pragma warning restore CA5350

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync db, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await db.ScriptEvaluateAsync(_sha1, keys, values);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(source, keys, values);
        }
    }
}
