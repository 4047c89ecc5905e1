using System.Diagnostics.Metrics;
using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Quotas;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Broker.Benchmarks;

/// <summary>
/// What authentication, the ACL check and the quota cost one request (a produce batch on the gRPC stream pays the
/// check and the quota per request; authentication once per call), against the open broker's check as the baseline.
/// The ACLs hold 1,000 entries for 100 principals, as a busy deployment might.
/// </summary>
[MemoryDiagnoser]
public class SecurityBenchmarks
{
    private readonly ClaimsPrincipal _user = Principals.Create("p42", "apikey");
    private AclAuthorizer _open = null!;
    private AclAuthorizer _secured = null!;
    private AclAuthorizer _busy = null!;
    private ClientQuotas _quotas = null!;
    private KeyRing _keys = null!;

    private sealed class Source(AclSnapshot snapshot) : IAclSource
    {
        public AclSnapshot? Current { get; } = snapshot;

        public Task Loaded => Task.CompletedTask;
    }

    private sealed class Meters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var entries = Enumerable.Range(0, 100).SelectMany(p => Enumerable.Range(0, 10).Select(t =>
            new AclEntry($"p{p}", AclResourceType.Topic, $"topic-{t}", t % 2 == 0 ? AclPatternType.Literal : AclPatternType.Prefixed, AclOperation.Write, AclPermission.Allow)));
        var keys = Enumerable.Range(0, 100).ToDictionary(p => $"p{p}", p => $"secret-of-principal-{p:D4}-0123456789");
        var secured = Options.Create(new AuthOptions { Keys = keys });
        var metrics = new SecurityMetrics(new Meters());
        _open = new AclAuthorizer(Options.Create(new AuthOptions()), metrics, NullLoggerFactory.Instance);
        _secured = new AclAuthorizer(secured, metrics, NullLoggerFactory.Instance, new Source(new AclSnapshot(1, entries)));
        // A busy broker's cache: 9,000 decisions of other principals beside the one asked (the cache holds 10,000).
        _busy = new AclAuthorizer(secured, metrics, NullLoggerFactory.Instance, new Source(new AclSnapshot(1, entries)));
        for (var i = 0; i < 9_000; i++)
        {
            _busy.Check(Principals.Create($"p{i % 100}", "apikey"), AclResourceType.Topic, $"topic-{i}", AclOperation.Write);
        }
        _quotas = new ClientQuotas(Options.Create(new QuotaOptions { Default = new QuotaRates { ProduceBytesPerSecond = long.MaxValue / 4 } }),
            TimeProvider.System, metrics, NullLogger<ClientQuotas>.Instance);
        _keys = new KeyRing(secured);
    }

    [Benchmark(Baseline = true, Description = "ACL check, open broker")]
    public bool OpenCheck() => _open.Check(_user, AclResourceType.Topic, "topic-4", AclOperation.Write).Allowed;

    [Benchmark(Description = "ACL check, 1,000 ACLs (cached decision)")]
    public bool SecuredCheck() => _secured.Check(_user, AclResourceType.Topic, "topic-4", AclOperation.Write).Allowed;

    [Benchmark(Description = "ACL check, 1,000 ACLs, 9,000 decisions cached")]
    public bool BusyCheck() => _busy.Check(_user, AclResourceType.Topic, "topic-4", AclOperation.Write).Allowed;

    [Benchmark(Description = "produce quota: delay + charge")]
    public bool Quota()
    {
        var free = _quotas.Delay(_user, QuotaKind.Produce) == TimeSpan.Zero;
        _quotas.Charge(_user, QuotaKind.Produce, 1024);
        return free;
    }

    [Benchmark(Description = "API key lookup, 100 keys (once per call)")]
    public string? KeyLookup() => _keys.Find("secret-of-principal-0042-0123456789");
}
