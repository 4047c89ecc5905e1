using System.Diagnostics.Metrics;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Broker.Security.Tests.Acls;

/// <summary>Kafka's authorization rules, as the authorizer applies them: patterns, wildcards, implied describe, deny winning, superusers.</summary>
public sealed class AclSemanticsTests
{
    private static AclEntry Allow(string principal, AclResourceType type, string name, AclOperation op, AclPatternType pattern = AclPatternType.Literal) =>
        new(principal, type, name, pattern, op, AclPermission.Allow);

    private static AclEntry Deny(string principal, AclResourceType type, string name, AclOperation op, AclPatternType pattern = AclPatternType.Literal) =>
        new(principal, type, name, pattern, op, AclPermission.Deny);

    private sealed class Source(AclSnapshot? snapshot) : IAclSource
    {
        public AclSnapshot? Current { get; set; } = snapshot;

        public Task Loaded => Current is null ? Task.Delay(Timeout.Infinite) : Task.CompletedTask;
    }

    private sealed class Meters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }

    private static AclAuthorizer Authorizer(IAclSource? source, Action<AuthOptions>? configure = null)
    {
        var options = new AuthOptions { Keys = { ["alice"] = "alice-key-0123456789abcdef" }, Superusers = { "root" } };
        configure?.Invoke(options);
        return new AclAuthorizer(Options.Create(options), new SecurityMetrics(new Meters()), NullLoggerFactory.Instance, source);
    }

    private static bool May(AclAuthorizer authorizer, string principal, AclResourceType type, string name, AclOperation op) =>
        authorizer.Check(Principals.Create(principal, "test"), type, name, op).Allowed;

    [Fact]
    public void Literal_wildcard_and_prefixed_patterns_match_as_in_Kafka()
    {
        var authorizer = Authorizer(new Source(new AclSnapshot(1, [
            Allow("alice", AclResourceType.Topic, "orders", AclOperation.Read),
            Allow("alice", AclResourceType.Topic, "eu-", AclOperation.Write, AclPatternType.Prefixed),
            Allow("alice", AclResourceType.Group, "*", AclOperation.Read),
            Allow("*", AclResourceType.Subject, "public-", AclOperation.Read, AclPatternType.Prefixed),
        ])));
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, "orders", AclOperation.Read));
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "orders-2", AclOperation.Read)); // literal is exact
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "orders", AclOperation.Write));
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, "eu-orders", AclOperation.Write));
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "us-orders", AclOperation.Write));
        Assert.True(May(authorizer, "alice", AclResourceType.Group, "anything", AclOperation.Read)); // '*' literal: every name
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "anything", AclOperation.Read)); // ... of its own type only
        Assert.True(May(authorizer, "bob", AclResourceType.Subject, "public-orders-value", AclOperation.Read)); // principal '*': everyone
        Assert.False(May(authorizer, "bob", AclResourceType.Topic, "orders", AclOperation.Read));
    }

    [Fact]
    public void Read_write_delete_and_alter_imply_describe_create_does_not_and_all_is_everything()
    {
        var authorizer = Authorizer(new Source(new AclSnapshot(1, [
            Allow("alice", AclResourceType.Topic, "r", AclOperation.Read),
            Allow("alice", AclResourceType.Topic, "w", AclOperation.Write),
            Allow("alice", AclResourceType.Topic, "d", AclOperation.Delete),
            Allow("alice", AclResourceType.Topic, "a", AclOperation.Alter),
            Allow("alice", AclResourceType.Topic, "c", AclOperation.Create),
            Allow("alice", AclResourceType.Topic, "x", AclOperation.All),
        ])));
        foreach (var name in new[] { "r", "w", "d", "a" })
        {
            Assert.True(May(authorizer, "alice", AclResourceType.Topic, name, AclOperation.Describe), name);
        }
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "c", AclOperation.Describe));
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "r", AclOperation.Write));
        foreach (var op in Enum.GetValues<AclOperation>())
        {
            Assert.True(May(authorizer, "alice", AclResourceType.Topic, "x", op), op.ToString());
        }
    }

    [Fact]
    public void Deny_wins_over_any_allow_and_says_which_ACL_denied()
    {
        var authorizer = Authorizer(new Source(new AclSnapshot(1, [
            Allow("*", AclResourceType.Topic, "*", AclOperation.All),
            Deny("alice", AclResourceType.Topic, "secret-", AclOperation.Read, AclPatternType.Prefixed),
            Deny("*", AclResourceType.Topic, "frozen", AclOperation.Write),
        ])));
        var refused = authorizer.Check(Principals.Create("alice", "test"), AclResourceType.Topic, "secret-plans", AclOperation.Read);
        Assert.Equal(AccessOutcome.Denied, refused.Outcome);
        Assert.Contains("an ACL denies it (deny read on topic prefix 'secret-' for alice)", refused.Message, StringComparison.Ordinal);
        Assert.True(May(authorizer, "bob", AclResourceType.Topic, "secret-plans", AclOperation.Read));
        // A deny of read is not a deny of describe, which read only implies when allowed.
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, "secret-plans", AclOperation.Describe));
        Assert.False(May(authorizer, "bob", AclResourceType.Topic, "frozen", AclOperation.Write));
        Assert.True(May(authorizer, "bob", AclResourceType.Topic, "frozen", AclOperation.Read));
    }

    [Fact]
    public void Superusers_and_the_service_may_everything_nobody_else_without_an_ACL_and_the_refusal_names_the_right()
    {
        var authorizer = Authorizer(new Source(AclSnapshot.Empty));
        Assert.True(May(authorizer, "root", AclResourceType.Cluster, "cluster", AclOperation.Alter));
        Assert.True(authorizer.Check(Principals.Create(Principals.Service, "test"), AclResourceType.Topic, "t", AclOperation.Write).Allowed);
        // The service acting for a user has the user's rights, not its own.
        Assert.False(authorizer.Check(Principals.Create("alice", "test", viaService: true), AclResourceType.Topic, "t", AclOperation.Write).Allowed);
        var refused = authorizer.Check(Principals.Create("alice", "test"), AclResourceType.Group, "billing", AclOperation.Read);
        Assert.Equal("Principal 'alice' may not read group 'billing': no ACL allows it (it needs read on group 'billing').", refused.Message);
    }

    [Fact]
    public void Before_the_ACLs_are_loaded_nothing_is_decided_and_an_open_broker_allows_everything()
    {
        var source = new Source(null);
        var authorizer = Authorizer(source);
        var waiting = authorizer.Check(Principals.Create("alice", "test"), AclResourceType.Topic, "t", AclOperation.Read);
        Assert.Equal(AccessOutcome.Unavailable, waiting.Outcome);
        Assert.True(May(authorizer, "root", AclResourceType.Topic, "t", AclOperation.Read)); // superusers need no ACLs

        var open = Authorizer(null, o => o.Keys.Clear());
        Assert.True(open.IsOpen);
        Assert.True(May(open, Principals.Anonymous, AclResourceType.Cluster, "cluster", AclOperation.Alter));
    }

    [Fact]
    public void A_new_snapshot_replaces_cached_decisions_at_once()
    {
        var source = new Source(new AclSnapshot(1, [Allow("alice", AclResourceType.Topic, "t", AclOperation.Read)]));
        var authorizer = Authorizer(source);
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, "t", AclOperation.Read));
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, "t", AclOperation.Read)); // from the cache
        source.Current = new AclSnapshot(2, []);
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "t", AclOperation.Read));
        source.Current = new AclSnapshot(3, [Deny("alice", AclResourceType.Topic, "t", AclOperation.All), Allow("alice", AclResourceType.Topic, "t", AclOperation.Read)]);
        Assert.False(May(authorizer, "alice", AclResourceType.Topic, "t", AclOperation.Read));
    }

    [Fact]
    public void The_decision_cache_is_bounded_and_starts_afresh_past_its_bound_deciding_the_same_from_every_thread()
    {
        var authorizer = Authorizer(new Source(new AclSnapshot(1, [Allow("alice", AclResourceType.Topic, "even-", AclOperation.Read, AclPatternType.Prefixed)])));
        var names = Enumerable.Range(0, (AclAuthorizer.MaxCachedDecisions * 2) + 500).Select(i => i % 2 == 0 ? $"even-{i}" : $"odd-{i}").ToList();
        var wrong = 0;
        var largest = 0;
        Parallel.ForEach(names, new ParallelOptions { MaxDegreeOfParallelism = 4 }, name =>
        {
            if (May(authorizer, "alice", AclResourceType.Topic, name, AclOperation.Read) != name.StartsWith("even-", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref wrong);
            }
            var held = authorizer.CachedDecisions;
            int seen;
            while (held > (seen = Volatile.Read(ref largest)) && Interlocked.CompareExchange(ref largest, held, seen) != seen)
            {
            }
        });
        Assert.Equal(0, wrong);
        // Swapped once past the bound: threads racing the swap may each add one more before it, no more.
        Assert.InRange(largest, AclAuthorizer.MaxCachedDecisions, AclAuthorizer.MaxCachedDecisions + 8);
        Assert.InRange(authorizer.CachedDecisions, 1, AclAuthorizer.MaxCachedDecisions + 8);
        var before = authorizer.CachedDecisions;
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, names[0], AclOperation.Read));
        Assert.True(May(authorizer, "alice", AclResourceType.Topic, names[0], AclOperation.Read)); // kept once, counted once
        Assert.InRange(authorizer.CachedDecisions, before, before + 1);
    }

    [Fact]
    public void Filtering_a_list_neither_fills_nor_flushes_the_decision_cache()
    {
        var authorizer = Authorizer(new Source(new AclSnapshot(1, [
            Allow("alice", AclResourceType.Topic, "even-", AclOperation.Describe, AclPatternType.Prefixed),
            Deny("alice", AclResourceType.Topic, "even-1", AclOperation.Describe, AclPatternType.Prefixed),
            Allow("bob", AclResourceType.Topic, "t", AclOperation.Read),
        ])));
        var access = new AccessControl(authorizer, new ProblemDetailsRefusals());
        Assert.True(May(authorizer, "bob", AclResourceType.Topic, "t", AclOperation.Read));
        var held = authorizer.CachedDecisions;

        // One GET /v1/topics on a broker with more topics than the cache holds, by a principal who is no superuser.
        var names = Enumerable.Range(0, AclAuthorizer.MaxCachedDecisions + 5_000).Select(i => i % 2 == 0 ? $"even-{i}" : $"odd-{i}").ToList();
        var alice = Principals.Create("alice", "test");
        var shown = names.Where(n => access.Allows(alice, AclResourceType.Topic, n, AclOperation.Describe)).ToList();

        Assert.Equal(names.Where(n => n.StartsWith("even-", StringComparison.Ordinal) && !n.StartsWith("even-1", StringComparison.Ordinal)), shown);
        Assert.Equal(held, authorizer.CachedDecisions);
        Assert.True(access.Allows(Principals.Create("root", "test"), AclResourceType.Topic, "odd-1", AclOperation.Describe));
        Assert.False(new AccessControl(Authorizer(new Source(null)), new ProblemDetailsRefusals()).Allows(alice, AclResourceType.Topic, "even-0", AclOperation.Describe));
    }

    [Theory]
    [InlineData("alice", "topic", "orders", "literal", null)]
    [InlineData("*", "group", "*", "literal", null)]
    [InlineData("alice", "cluster", "cluster", "literal", null)]
    [InlineData("alice", "cluster", "other", "literal", "the cluster resource is named 'cluster'")]
    [InlineData("alice", "topic", "*", "prefixed", "a prefixed pattern of '*'")]
    [InlineData("al ice", "topic", "orders", "literal", "has a space")]
    [InlineData("alice", "topic", "", "literal", "resource.name has 1 to 512 characters")]
    public void Entries_are_checked_before_they_are_kept(string principal, string type, string name, string pattern, string? problem)
    {
        Assert.True(AclEntry.TryParse<AclResourceType>(type, out var t));
        Assert.True(AclEntry.TryParse<AclPatternType>(pattern, out var p));
        var check = new AclEntry(principal, t, name, p, AclOperation.Read, AclPermission.Allow).Check();
        if (problem is null)
        {
            Assert.Null(check);
        }
        else
        {
            Assert.Contains(problem, check, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("READ", true)]
    [InlineData("read", true)]
    [InlineData("0", false)]
    [InlineData("7", false)]
    [InlineData("", false)]
    [InlineData("read,write", false)]
    public void Enum_names_parse_by_name_only(string text, bool parses) => Assert.Equal(parses, AclEntry.TryParse<AclOperation>(text, out _));
}
