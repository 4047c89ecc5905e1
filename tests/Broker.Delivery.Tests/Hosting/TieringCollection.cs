using Broker.Testing;

namespace Broker.Delivery.Tests.Hosting;

/// <summary>Tests that need tiered history: Redis and an S3-compatible server (s3rver), shared.</summary>
[CollectionDefinition(Name)]
public sealed class TieringCollection : ICollectionFixture<RedisFixture>, ICollectionFixture<S3Fixture>
{
    public const string Name = "redis+s3";
}
