using Broker.Testing;

namespace Broker.Client.Tests.Hosting;

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
