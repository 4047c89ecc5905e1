using Broker.Testing;

namespace Broker.Storage.Tests.Infrastructure;

/// <summary>Tests of the cold tier: one Redis server and one S3-compatible server (s3rver), shared.</summary>
[CollectionDefinition(Name)]
public sealed class TieringCollection : ICollectionFixture<RedisFixture>, ICollectionFixture<S3Fixture>
{
    public const string Name = "redis+s3";
}
