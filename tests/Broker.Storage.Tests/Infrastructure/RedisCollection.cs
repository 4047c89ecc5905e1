using Broker.Testing;

namespace Broker.Storage.Tests.Infrastructure;

/// <summary>Tests that share one Redis server (xunit wants the definition in the test assembly).</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
