using Broker.Testing;

namespace SchemaRegistry.Tests.Hosting;

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
