using Broker.Testing;

namespace Broker.Security.Tests.Hosting;

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
