using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Broker.Contracts.Delivery;
using Broker.Contracts.Naming;
using Broker.Delivery.Consuming;
using Broker.Delivery.Groups;
using Broker.ServiceDefaults.Security;
using Broker.ServiceDefaults.Security.Acls;
using Broker.ServiceDefaults.Security.Quotas;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Broker.Delivery.Apis;

/// <summary>
/// REST: HTTP pull consumers (poll and acks) and the description of a group. Errors are RFC 7807 problem
/// details: 400 for bad input (naming the field), 404 for a missing topic or group and for acks of
/// deliveries the service does not hold.
/// </summary>
internal static class GroupsApi
{
    public static RouteGroupBuilder MapGroupsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/groups").WithTags("Groups");
        // Kafka's consumer rights: read on the group and on the topic to fetch, read on the group to commit.
        api.MapPost("/{group}/topics/{topic}/poll", Poll).WithName("Poll")
            .RequireAcl(AclResourceType.Group, "group", AclOperation.Read).RequireAcl(AclResourceType.Topic, "topic", AclOperation.Read);
        api.MapPost("/{group}/topics/{topic}/acks", Acks).WithName("Acks").RequireAcl(AclResourceType.Group, "group", AclOperation.Read);
        api.MapGet("/{group}", DescribeGroup).WithName("DescribeGroup").RequireAcl(AclResourceType.Group, "group", AclOperation.Describe);
        return api;
    }

    public static async Task<Results<Ok<PollResponse>, ValidationProblem, ProblemHttpResult>> Poll(
        string group, string topic, PollRequest? request, HttpConsumers consumers, ClientQuotas quotas, HttpContext http, IOptions<DeliveryOptions> options,
        CancellationToken cancellationToken)
    {
        var quota = new FetchQuota(quotas, http.User);
        if (quota.Delay() is { } delay && delay > TimeSpan.Zero)
        {
            http.Response.Headers.RetryAfter = Math.Ceiling(delay.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem($"Principal '{http.User.Name()}' is over its fetch quota; retry in {Math.Ceiling(delay.TotalMilliseconds)} ms.",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Over quota.");
        }
        request ??= new PollRequest();
        var o = options.Value;
        var errors = SubscriptionRules.Check(group, topic, request.Window, request.AckTimeoutMs, null, o);
        var consumerId = request.ConsumerId ?? "http";
        if (Names.Check(consumerId, "consumer") is { } consumerError)
        {
            errors["consumerId"] = [consumerError];
        }
        if (request.MaxRecords is { } max && (max < 1 || max > o.MaxPollRecords))
        {
            errors["maxRecords"] = [$"maxRecords must be between 1 and {o.MaxPollRecords} (Delivery:MaxPollRecords); got {max}."];
        }
        if (request.WaitMs is { } wait && (wait < 0 || wait > o.MaxPollWaitMs))
        {
            errors["waitMs"] = [$"waitMs must be between 0 and {o.MaxPollWaitMs} (Delivery:MaxPollWaitMs); got {wait}."];
        }
        if (!TryParseMode(request.Mode, out var mode))
        {
            errors["mode"] = [$"mode must be concurrent or ordered; got '{request.Mode}'."];
        }
        if (!TryParseStart(request.Start, out var start))
        {
            errors["start"] = [$"start must be earliest or latest; got '{request.Start}'."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The poll is not valid.");
        }

        ConsumerMember member;
        try
        {
            var spec = SubscriptionRules.Spec(group, topic, request.Window, mode, start, request.AckTimeoutMs, consumerId, o);
            member = await consumers.GetOrJoinAsync(consumerId, spec, request.Window is not null, cancellationToken);
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            return TypedResults.Problem(ex.Status.Detail, statusCode: StatusCodes.Status404NotFound, title: "Topic not found.");
        }

        var maxRecords = request.MaxRecords ?? 100;
        var deadline = Environment.TickCount64 + (request.WaitMs ?? 0);
        var taken = new List<Delivered>();
        while (true)
        {
            member.Take(maxRecords - taken.Count, quota.MaxBytes(long.MaxValue), taken);
            var remaining = deadline - Environment.TickCount64;
            if (taken.Count > 0 || remaining <= 0 || member.Failure is not null)
            {
                break;
            }
            await member.WaitAsync(TimeSpan.FromMilliseconds(remaining), cancellationToken);
        }
        if (taken.Count == 0 && member.Failure is Grpc.Core.RpcException failure)
        {
            return TypedResults.Problem(failure.Status.Detail, statusCode: StatusCodes.Status404NotFound, title: "Topic not found.");
        }
        member.Touch();
        quota.Charge(taken);
        return TypedResults.Ok(new PollResponse(member.Id, [.. taken.Select(PolledRecord.From)]));
    }

    public static Results<Ok<AckResponse>, ValidationProblem, ProblemHttpResult> Acks(
        string group, string topic, AckRequest? request, GroupSessions sessions)
    {
        var acks = request?.Ack ?? [];
        var nacks = request?.Nack ?? [];
        if (acks.Count + nacks.Count == 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["ack"] = ["Name at least one delivery id in ack or nack."] },
                title: "The acknowledgement is not valid.");
        }
        var key = new GroupTopic(group, topic);
        // All or nothing: every id is checked before any is applied.
        var malformed = new List<string>();
        var unknown = new List<string>();
        var targets = new List<(ConsumerMember Member, string Id, string? Error, bool Nack)>(acks.Count + nacks.Count);
        foreach (var (id, error, nack) in acks.Select(a => (a, (string?)null, false)).Concat(nacks.Select(n => (n.DeliveryId, n.Error, true))))
        {
            if (!DeliveryId.TryParse(id, out var parsed))
            {
                malformed.Add($"'{Names.Quote(id)}' is not a delivery id.");
                continue;
            }
            var member = sessions.Find(parsed.MemberId);
            if (member is null || member.Key != key)
            {
                unknown.Add($"Delivery '{id}' is unknown here: its consumer left, or it belongs to another group, topic or Delivery instance.");
                continue;
            }
            var check = member.Check(id, nack);
            if (!check.Ok)
            {
                (check.Malformed ? malformed : unknown).Add(check.Error!);
                continue;
            }
            targets.Add((member, id, error, nack));
        }
        if (malformed.Count > 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["ack"] = FirstOf(malformed) }, title: "The acknowledgement is not valid.");
        }
        if (unknown.Count > 0)
        {
            return TypedResults.Problem(string.Join(" ", unknown.Take(10)) + (unknown.Count > 10 ? $" ({unknown.Count} in all.)" : ""),
                statusCode: StatusCodes.Status404NotFound, title: "Unknown delivery; nothing was acknowledged.");
        }
        int acked = 0, nacked = 0;
        foreach (var (member, id, error, nack) in targets)
        {
            if (nack ? member.Nack(id, error).Ok : member.Ack(id).Ok)
            {
                _ = nack ? nacked++ : acked++;
            }
        }
        return TypedResults.Ok(new AckResponse(acked, nacked));
    }

    /// <summary>The first ten of a refusal's reasons and how many there are: a refusal does not grow with the request it refuses.</summary>
    internal static string[] FirstOf(IReadOnlyList<string> reasons) =>
        reasons.Count <= 10 ? [.. reasons] : [.. reasons.Take(10), $"({reasons.Count} in all.)"];

    public static async Task<Results<Ok<GroupDescription>, ValidationProblem, ProblemHttpResult>> DescribeGroup(
        string group, IGroupCoordinator coordinator, StorageAccess.LogClient log, CancellationToken cancellationToken)
    {
        if (Names.Check(group, "group") is { } error)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["group"] = [error] }, title: "The group name is not valid.");
        }
        var topics = await coordinator.TopicsOfAsync(group, cancellationToken);
        if (topics.Count == 0)
        {
            return TypedResults.Problem($"Group '{group}' has never subscribed to a topic.", statusCode: StatusCodes.Status404NotFound, title: "Group not found.");
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var described = new List<GroupTopicDescription>(topics.Count);
        foreach (var topic in topics)
        {
            var description = await log.DescribeAsync(topic, cancellationToken);
            if (description is null)
            {
                continue; // deleted since
            }
            var committed = await log.FetchCommittedAsync(group, topic, description.Partitions, cancellationToken);
            var (members, leases) = await coordinator.DescribeAsync(new GroupTopic(group, topic), cancellationToken);
            var owners = leases.Where(l => l.ExpiresAtMs > now).ToDictionary(l => l.Partition, l => l.MemberId);
            var partitions = new List<PartitionLag>(description.Partitions);
            for (var p = 0; p < description.Partitions; p++)
            {
                var end = description.EndOffsets[p];
                long? done = committed[p] >= 0 ? committed[p] : null;
                partitions.Add(new PartitionLag(p, done, end, end - (done ?? description.StartOffsets[p]), owners.GetValueOrDefault(p)));
            }
            described.Add(new GroupTopicDescription(topic, [.. members.Select(m => new GroupMember(m.MemberId, m.Name))], partitions,
                partitions.Sum(p => p.Lag)));
        }
        return TypedResults.Ok(new GroupDescription(group, described));
    }

    private static bool TryParseMode(string? value, out DeliveryMode mode)
    {
        mode = DeliveryMode.Concurrent;
        switch (value?.ToLowerInvariant())
        {
            case null or "" or "concurrent":
                return true;
            case "ordered":
                mode = DeliveryMode.Ordered;
                return true;
            default:
                return false;
        }
    }

    private static bool TryParseStart(string? value, out StartPosition start)
    {
        start = StartPosition.Latest;
        switch (value?.ToLowerInvariant())
        {
            case null or "" or "latest":
                return true;
            case "earliest":
                start = StartPosition.Earliest;
                return true;
            default:
                return false;
        }
    }
}

/// <summary>The body of a poll; everything optional. Mode, start and ack timeout hold from the consumer's first poll.</summary>
public sealed record PollRequest(
    int? MaxRecords = null, int? WaitMs = null, string? ConsumerId = null, int? Window = null, string? Mode = null,
    string? Start = null, int? AckTimeoutMs = null);

public sealed record PollResponse(string MemberId, IReadOnlyList<PolledRecord> Records);

/// <summary>
/// A polled record. A value that is JSON comes back as JSON in <c>value</c> (as Ingest's JSON produce
/// stores it), anything else as <c>valueBase64</c>; a key that is UTF-8 text as <c>key</c>, else <c>keyBase64</c>.
/// </summary>
public sealed record PolledRecord(
    int Partition,
    long Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyBase64,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RawJson? Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ValueBase64,
    IReadOnlyDictionary<string, string> Headers,
    long Timestamp,
    string DeliveryId,
    int Attempt)
{
    internal static PolledRecord From(Delivered delivery)
    {
        var r = delivery.Record;
        var (key, keyBase64) = RecordText.Key(r.Key);
        var (value, valueBase64) = RecordText.Value(r.Value);
        return new PolledRecord(r.Partition, r.Offset, key, keyBase64, value, valueBase64, RecordText.Headers(delivery.Headers),
            r.Timestamp, delivery.DeliveryId, delivery.Attempt);
    }
}

/// <summary>
/// How the REST side shows a record's bytes: a key that is UTF-8 text as text (else base64), a value that is
/// JSON as JSON (as Ingest's JSON produce stores it, else base64), header values as UTF-8 text.
/// </summary>
internal static class RecordText
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static (string? Text, string? Base64) Key(ReadOnlyMemory<byte>? key)
    {
        if (key is not { } k)
        {
            return (null, null);
        }
        try
        {
            return (s_strictUtf8.GetString(k.Span), null);
        }
        catch (DecoderFallbackException)
        {
            return (null, Convert.ToBase64String(k.Span));
        }
    }

    public static (RawJson? Json, string? Base64) Value(ReadOnlyMemory<byte> value) =>
        RawJson.IsJson(value.Span) ? (new RawJson(value), null) : (null, Convert.ToBase64String(value.Span));

    public static Dictionary<string, string> Headers(IReadOnlyList<Broker.Contracts.Batches.RecordHeader> headers)
    {
        var result = new Dictionary<string, string>(headers.Count, StringComparer.Ordinal);
        foreach (var header in headers)
        {
            result[header.Name] = Encoding.UTF8.GetString(header.Value.Span);
        }
        return result;
    }
}

/// <summary>JSON bytes written into a response as they are.</summary>
[JsonConverter(typeof(RawJsonConverter))]
public sealed record RawJson(ReadOnlyMemory<byte> Utf8)
{
    public static bool IsJson(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(bytes);
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

internal sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawJson(Encoding.UTF8.GetBytes(document.RootElement.GetRawText()));
    }

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Utf8.Span, skipInputValidation: true);
}

public sealed record AckRequest(IReadOnlyList<string>? Ack = null, IReadOnlyList<NackItem>? Nack = null);

public sealed record NackItem(string DeliveryId, string? Error = null);

public sealed record AckResponse(int Acked, int Nacked);

public sealed record GroupDescription(string Group, IReadOnlyList<GroupTopicDescription> Topics);

public sealed record GroupTopicDescription(string Topic, IReadOnlyList<GroupMember> Members, IReadOnlyList<PartitionLag> Partitions, long Lag);

public sealed record GroupMember(string MemberId, string Name);

/// <summary>A partition as the group sees it: committed offset (null before the group's first commit), end, lag and current owner.</summary>
public sealed record PartitionLag(int Partition, long? CommittedOffset, long EndOffset, long Lag, string? Owner);
