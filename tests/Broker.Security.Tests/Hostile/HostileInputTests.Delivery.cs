using System.Globalization;
using Broker.Contracts.Delivery;
using Grpc.Core;

namespace Broker.Security.Tests.Hostile;

public sealed partial class HostileInputTests
{
    // ---- Delivery REST: poll, acks and groups -----------------------------------------------------------------------

    private IEnumerable<HostileCase> DeliveryGroupCases()
    {
        const string poll = $"/v1/groups/{CanaryGroup}/topics/{Canary}/poll";
        const string acks = $"/v1/groups/{CanaryGroup}/topics/{Canary}/acks";

        foreach (var (name, body, statuses) in BrokenBodies("""{"maxRecords":10,"waitMs":0}""", "maxRecords"))
        {
            yield return new($"delivery POST poll: {name}", () => Delivery(HttpMethod.Post, poll, body()), statuses);
        }
        var fields = Payloads.BadInts().Select(n => (Field: "maxRecords", n.Name, n.Json))
            .Concat([("maxRecords", "0", "0"), ("maxRecords", "1001 (past Delivery:MaxPollRecords)", "1001")])
            .Concat([("waitMs", "-1", "-1"), ("waitMs", "10^9", "1000000000"), ("waitMs", "1e400", "1e400")])
            .Concat([("window", "0", "0"), ("window", "10^7 (past Delivery:MaxWindow)", "10000000"), ("window", "-5", "-5")])
            .Concat([("ackTimeoutMs", "1", "1"), ("ackTimeoutMs", "2^31-1", "2147483647"), ("mode", "chaos", "\"chaos\""), ("mode", "a number", "1")])
            .Concat([("start", "middle", "\"middle\""), ("start", "an offset", "5")])
            .Concat(Payloads.BadNamesInJson().Select(n => ("consumerId", n.Name, n.Json)));
        foreach (var (field, name, json) in fields)
        {
            yield return new($"delivery POST poll: {field} {name}", () => Delivery(HttpMethod.Post, poll, Json($"{{\"{field}\":{json}}}")), [BadRequest]);
        }
        foreach (var (name, segment, server) in Payloads.BadNames())
        {
            yield return new($"delivery POST poll: a group with {name}", () =>
                Delivery(HttpMethod.Post, $"/v1/groups/{segment}/topics/{Canary}/poll", Json("{}")), NameStatuses(server), ServerLevel: server);
            yield return new($"delivery POST poll: a topic with {name}", () =>
                Delivery(HttpMethod.Post, $"/v1/groups/{CanaryGroup}/topics/{segment}/poll", Json("{}")), NameStatuses(server), ServerLevel: server);
            yield return new($"delivery GET /v1/groups/{{name with {name}}}", () => Delivery(HttpMethod.Get, $"/v1/groups/{segment}"), NameStatuses(server), ServerLevel: server);
        }
        yield return new("delivery POST poll: a topic that does not exist", () =>
            Delivery(HttpMethod.Post, $"/v1/groups/{Fresh("g")}/topics/no-such-topic/poll", Json("{}")), [NotFound]);
        yield return new("delivery GET /v1/groups/{100 KB name}", () => Delivery(HttpMethod.Get, $"/v1/groups/{Payloads.Text(100 * 1024)}"), [UriTooLong], ServerLevel: true);

        foreach (var (name, body, statuses) in BrokenBodies("""{"ack":["m.0.0.1"]}""", "ack"))
        {
            yield return new($"delivery POST acks: {name}", () => Delivery(HttpMethod.Post, acks, body()), statuses);
        }
        foreach (var (name, json, status) in new[]
        {
            ("nothing to ack", "{}", BadRequest),
            ("empty lists", """{"ack":[],"nack":[]}""", BadRequest),
            ("ack as a string", """{"ack":"m.0.0.1"}""", BadRequest),
            ("an id as a number", """{"ack":[5]}""", BadRequest),
            ("an empty id", """{"ack":[""]}""", BadRequest),
            ("an id with no dots", """{"ack":["garbage"]}""", BadRequest),
            ("an id without a member", """{"ack":[".0.0.1"]}""", BadRequest),
            ("an id with a negative partition", """{"ack":["m.-1.0.1"]}""", BadRequest),
            ("an id with an offset past 2^63", """{"ack":["m.0.99999999999999999999.1"]}""", BadRequest),
            ("an id with a control character", """{"ack":["m\u0001.0.0.1"]}""", NotFound),
            ("an id of 1,000 characters", $"{{\"ack\":[\"{Payloads.Text(1_000)}.0.0.1\"]}}", NotFound),
            ("an id nobody was given", """{"ack":["m-unknown.0.0.1"]}""", NotFound),
            ("a nack as a string", """{"nack":["m.0.0.1"]}""", BadRequest),
            ("a nack without an id", """{"nack":[{"error":"x"}]}""", BadRequest),
        })
        {
            yield return new($"delivery POST acks: {name}", () => Delivery(HttpMethod.Post, acks, Json(json)), [status]);
        }
        yield return new("delivery POST acks: 1,000,000 malformed ids (past Delivery:MaxRequestBytes)", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Array("\"x\"", 1_000_000, "{\"ack\":", "}"))), [TooLarge]);
        yield return new("delivery POST acks: 200,000 malformed ids", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Array("\"x\"", 200_000, "{\"ack\":", "}"))), [BadRequest]);
        yield return new("delivery POST acks: 50,000 ids nobody was given", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Array("\"m.0.0.1\"", 50_000, "{\"ack\":", "}"))), [NotFound]);
        yield return new("delivery POST acks: a malformed id of 500 KB", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Filled("{\"ack\":[\"", 500 * 1024, "\"]}"))), [BadRequest]);
        yield return new("delivery POST acks: a nack with a 500 KB error for an id nobody was given", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Filled("{\"nack\":[{\"deliveryId\":\"m.0.0.1\",\"error\":\"", 500 * 1024, "\"}]}"))), [NotFound]);
        yield return new("delivery POST acks: a nack with a 2 MB error (past Delivery:MaxRequestBytes)", () =>
            Delivery(HttpMethod.Post, acks, Bytes(Payloads.Filled("{\"nack\":[{\"deliveryId\":\"m.0.0.1\",\"error\":\"", 2 * 1024 * 1024, "\"}]}"))), [TooLarge]);
    }

    // ---- Delivery REST: Dapr apps and replays -----------------------------------------------------------------------

    private IEnumerable<HostileCase> DeliveryAppAndReplayCases()
    {
        const string validApp = """{"url":"http://127.0.0.1:9","subscriptions":[{"pubsubname":"pubsub","topic":"canary","route":"/orders"}]}""";
        foreach (var (name, body, statuses) in BrokenBodies(validApp, "url"))
        {
            yield return new($"delivery PUT /v1/apps/{{id}}: {name}", () => Delivery(HttpMethod.Put, $"/v1/apps/{Fresh("app")}", body()), statuses);
        }
        const string SubscriptionsPrefix = """{"url":"http://127.0.0.1:9","subscriptions":""";
        static string Subscriptions(string subscriptions) => $$"""{"url":"http://127.0.0.1:9","subscriptions":{{subscriptions}}}""";
        static string Rule(string match) => Subscriptions($$$"""[{"pubsubname":"pubsub","topic":"canary","routes":{"rules":[{"match":{{{match}}},"path":"/a"}]}}]""");
        var deepRule = JsonString(new string('(', 50_000) + "event.type == 'a'" + new string(')', 50_000));
        foreach (var (name, json) in new[]
        {
            ("no url", """{"subscriptions":[]}"""),
            ("a url that is not one", """{"url":"not a url"}"""),
            ("an ftp url", """{"url":"ftp://127.0.0.1/"}"""),
            ("a relative url", """{"url":"/orders"}"""),
            ("a url outside Delivery:Outbound:AllowedHosts", """{"url":"http://10.1.2.3:8080"}"""),
            ("a url with credentials", """{"url":"http://user:secret@127.0.0.1:9"}"""),
            ("a url of 100 KB", $"{{\"url\":\"http://127.0.0.1/{Payloads.Text(100 * 1024)}\"}}"),
            ("a url as a number", """{"url":80}"""),
            ("an unknown protocol", """{"url":"http://127.0.0.1:9","protocol":"smtp"}"""),
            ("subscriptions as an object", Subscriptions("{}")),
            ("subscriptions as a string", Subscriptions("\"canary\"")),
            ("a subscription that is not an object", Subscriptions("[42]")),
            ("a subscription without a topic", Subscriptions("""[{"pubsubname":"pubsub","route":"/a"}]""")),
            ("a subscription without a route", Subscriptions("""[{"pubsubname":"pubsub","topic":"canary"}]""")),
            ("a subscription to a topic with '/'", Subscriptions("""[{"pubsubname":"pubsub","topic":"a/b","route":"/a"}]""")),
            ("a subscription to a topic of 1,000 characters", Subscriptions($"[{{\"pubsubname\":\"pubsub\",\"topic\":\"{Payloads.Text(1_000)}\",\"route\":\"/a\"}}]")),
            ("a dead-letter topic with braces", Subscriptions("""[{"pubsubname":"pubsub","topic":"canary","route":"/a","deadLetterTopic":"{d}"}]""")),
            ("bulk maxMessagesCount 2^31", Subscriptions("""[{"pubsubname":"pubsub","topic":"canary","route":"/a","bulkSubscribe":{"enabled":true,"maxMessagesCount":2147483648}}]""")),
            ("a rule of ~100 KB of nested parentheses", Rule(deepRule)),
            ("a rule 33 levels deep (past EventRule.MaxDepth)", Rule(JsonString(new string('(', 33) + "true" + new string(')', 33)))),
            ("a rule of 5,000 characters (past EventRule.MaxLength)", Rule(JsonString(string.Join(" || ", Enumerable.Repeat("event.type == 'a'", 300))))),
            ("a rule that does not parse", Rule(JsonString("event.type == "))),
            ("a rule without a path", Subscriptions("""[{"pubsubname":"pubsub","topic":"canary","routes":{"rules":[{"match":"true"}]}}]""")),
        })
        {
            yield return new($"delivery PUT /v1/apps/{{id}}: {name}", () => Delivery(HttpMethod.Put, $"/v1/apps/{Fresh("app")}", Json(json)), [BadRequest]);
        }
        static string Subscription(string topic) => $"{{\"pubsubname\":\"pubsub\",\"topic\":\"{topic}\",\"route\":\"/a\"}}";
        yield return new("delivery PUT /v1/apps/{id}: 10,000 subscriptions, each to a topic with a space", () => Delivery(HttpMethod.Put, $"/v1/apps/{Fresh("app")}",
            Bytes(Payloads.Array(i => Subscription($"a b{i}"), 10_000, SubscriptionsPrefix, "}"))), [BadRequest]);
        yield return new("delivery PUT /v1/apps/{id}: 100,000 subscriptions, the last to a topic with a space (past Delivery:MaxRequestBytes)", () =>
            Delivery(HttpMethod.Put, $"/v1/apps/{Fresh("app")}", Bytes(Payloads.Array(i => Subscription(i == 99_999 ? "a b" : $"t{i}"), 100_000, SubscriptionsPrefix, "}"))),
            [TooLarge]);
        yield return new("delivery PUT /v1/apps/{id}: 100,000 subscriptions, each to a topic with a space (past Delivery:MaxRequestBytes)", () =>
            Delivery(HttpMethod.Put, $"/v1/apps/{Fresh("app")}", Bytes(Payloads.Array(i => Subscription($"a b{i}"), 100_000, SubscriptionsPrefix, "}"))), [TooLarge]);
        foreach (var (name, segment, server) in Payloads.BadNames())
        {
            yield return new($"delivery PUT /v1/apps/{{id with {name}}}", () => Delivery(HttpMethod.Put, $"/v1/apps/{segment}", Json(validApp)), NameStatuses(server), ServerLevel: server);
            yield return new($"delivery DELETE /v1/apps/{{id with {name}}}", () => Delivery(HttpMethod.Delete, $"/v1/apps/{segment}"), NameStatuses(server), ServerLevel: server);
            yield return new($"delivery GET /v1/replays/{{id with {name}}}", () => Delivery(HttpMethod.Get, $"/v1/replays/{segment}"), NameStatuses(server), ServerLevel: server);
            yield return new($"delivery DELETE /v1/replays/{{id with {name}}}", () => Delivery(HttpMethod.Delete, $"/v1/replays/{segment}"), NameStatuses(server), ServerLevel: server);
        }
        yield return new("delivery GET /v1/apps/{100 KB id}", () => Delivery(HttpMethod.Get, $"/v1/apps/{Payloads.Text(100 * 1024)}"), [UriTooLong], ServerLevel: true);

        const string validReplay = """{"topic":"canary","target":{"verify":true}}""";
        foreach (var (name, body, statuses) in BrokenBodies(validReplay, "topic"))
        {
            yield return new($"delivery POST /v1/replays: {name}", () => Delivery(HttpMethod.Post, "/v1/replays", body()), statuses);
        }
        static string Replay(string fields) => $$"""{"topic":"canary",{{fields}}}""";
        foreach (var (name, json, status) in new[]
        {
            ("no topic", """{"target":{"verify":true}}""", BadRequest),
            ("a topic with braces", """{"topic":"{canary}","target":{"verify":true}}""", BadRequest),
            ("a topic that does not exist", """{"topic":"no-such-topic","target":{"verify":true}}""", NotFound),
            ("no target", Replay("\"rateLimit\":1"), BadRequest),
            ("two targets", Replay("""  "target":{"verify":true,"topic":"other"}"""), BadRequest),
            ("verify false", Replay("""  "target":{"verify":false}"""), BadRequest),
            ("a target topic that is the source", Replay("""  "target":{"topic":"canary"}"""), BadRequest),
            ("a target topic with '..'", Replay("""  "target":{"topic":".."}"""), BadRequest),
            ("a target group with a space", Replay("""  "target":{"group":"a b"}"""), BadRequest),
            ("a target group that never consumed the topic", Replay("""  "target":{"group":"never-consumed"}"""), NotFound),
            ("a target url that is not one", Replay("""  "target":{"url":"not a url"}"""), BadRequest),
            ("a target url outside Delivery:Outbound:AllowedHosts", Replay("""  "target":{"url":"http://10.1.2.3/records"}"""), BadRequest),
            ("a target url with credentials", Replay("""  "target":{"url":"http://user:s3cr3t@127.0.0.1:9/records"}"""), BadRequest),
            ("a file url", Replay("""  "target":{"url":"file:///etc/passwd"}"""), BadRequest),
            ("partition -1", Replay("""  "partitions":[-1],"target":{"verify":true}"""), BadRequest),
            ("a partition past the topic's", Replay("""  "partitions":[3],"target":{"verify":true}"""), BadRequest),
            ("a partition twice", Replay("""  "partitions":[0,0],"target":{"verify":true}"""), BadRequest),
            ("no partitions", Replay("""  "partitions":[],"target":{"verify":true}"""), BadRequest),
            ("partitions as a string", Replay("""  "partitions":"0","target":{"verify":true}"""), BadRequest),
            ("a negative start offset", Replay("""  "start":{"offset":-1},"target":{"verify":true}"""), BadRequest),
            ("a start with an offset and a timestamp", Replay("""  "start":{"offset":0,"timestamp":0},"target":{"verify":true}"""), BadRequest),
            ("an end before the start", Replay("""  "start":{"offset":5},"end":{"offset":1},"target":{"verify":true}"""), BadRequest),
            ("an end time before the start time", Replay("""  "start":{"timestamp":5000},"end":{"timestamp":1},"target":{"verify":true}"""), BadRequest),
            ("a negative timestamp", Replay("""  "end":{"timestamp":-1},"target":{"verify":true}"""), BadRequest),
            ("an offset past 2^63", Replay("""  "start":{"offset":9223372036854775808},"target":{"verify":true}"""), BadRequest),
            ("an offset 1e400", Replay("""  "start":{"offset":1e400},"target":{"verify":true}"""), BadRequest),
            ("an offset as a string", Replay("""  "start":{"offset":"zero"},"target":{"verify":true}"""), BadRequest),
            ("rateLimit 0", Replay("""  "rateLimit":0,"target":{"verify":true}"""), BadRequest),
            ("rateLimit -1", Replay("""  "rateLimit":-1,"target":{"verify":true}"""), BadRequest),
            ("rateLimit 2^31", Replay("""  "rateLimit":2147483648,"target":{"verify":true}"""), BadRequest),
        })
        {
            yield return new($"delivery POST /v1/replays: {name}", () => Delivery(HttpMethod.Post, "/v1/replays", Json(json)), [status]);
        }
        yield return new("delivery POST /v1/replays: 1,000,000 partitions (past Delivery:MaxRequestBytes)", () => Delivery(HttpMethod.Post, "/v1/replays",
            Bytes(Payloads.Array(i => i.ToString(CultureInfo.InvariantCulture), 1_000_000, "{\"topic\":\"canary\",\"target\":{\"verify\":true},\"partitions\":", "}"))), [TooLarge]);
        yield return new("delivery POST /v1/replays: 100,000 partitions", () => Delivery(HttpMethod.Post, "/v1/replays",
            Bytes(Payloads.Array(i => i.ToString(CultureInfo.InvariantCulture), 100_000, "{\"topic\":\"canary\",\"target\":{\"verify\":true},\"partitions\":", "}"))), [BadRequest]);
        yield return new("delivery POST /v1/replays: a target url of 500 KB that is not one", () =>
            Delivery(HttpMethod.Post, "/v1/replays", Bytes(Payloads.Filled("{\"topic\":\"canary\",\"target\":{\"url\":\"", 500 * 1024, "\"}}"))), [BadRequest]);
        yield return new("delivery POST /v1/replays: 300,000 partitions, each 0", () => Delivery(HttpMethod.Post, "/v1/replays",
            Bytes(Payloads.Array("0", 300_000, "{\"topic\":\"canary\",\"target\":{\"verify\":true},\"partitions\":", "}"))), [BadRequest]);
    }

    private static string JsonString(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    // ---- Delivery gRPC: the subscribe stream ------------------------------------------------------------------------

    private IEnumerable<HostileCase> DeliveryGrpcCases()
    {
        static SubscribeRequest Subscribe(string group = CanaryGroup, string topic = Canary, int window = 10, int ackTimeoutMs = 0, string name = "") =>
            new() { Subscribe = new Subscribe { Group = group, Topic = topic, Window = window, AckTimeoutMs = ackTimeoutMs, ConsumerName = name } };

        foreach (var (name, first, status) in new (string, Func<SubscribeRequest>, StatusCode)[]
        {
            ("acks before subscribing", () => new SubscribeRequest { Acks = new Acks { Ack = { "m.0.0.1" } } }, StatusCode.InvalidArgument),
            ("a window change before subscribing", () => new SubscribeRequest { SetWindow = new SetWindow { Window = 5 } }, StatusCode.InvalidArgument),
            ("an empty message", () => new SubscribeRequest(), StatusCode.InvalidArgument),
            ("an empty group", () => Subscribe(group: ""), StatusCode.InvalidArgument),
            ("a group with a space", () => Subscribe(group: "a b"), StatusCode.InvalidArgument),
            ("a group of 1,000 characters", () => Subscribe(group: Payloads.Text(1_000)), StatusCode.InvalidArgument),
            ("a topic with ':'", () => Subscribe(topic: "a:b"), StatusCode.InvalidArgument),
            ("a topic that does not exist", () => Subscribe(group: "g-missing", topic: "no-such-topic"), StatusCode.NotFound),
            ("window 0", () => Subscribe(window: 0), StatusCode.InvalidArgument),
            ("window -1", () => Subscribe(window: -1), StatusCode.InvalidArgument),
            ("window 2^31-1", () => Subscribe(window: int.MaxValue), StatusCode.InvalidArgument),
            ("ack timeout 1 ms", () => Subscribe(ackTimeoutMs: 1), StatusCode.InvalidArgument),
            ("ack timeout -5", () => Subscribe(ackTimeoutMs: -5), StatusCode.InvalidArgument),
            ("ack timeout 2^31-1", () => Subscribe(ackTimeoutMs: int.MaxValue), StatusCode.InvalidArgument),
            ("a consumer name of 1,000 characters", () => Subscribe(name: Payloads.Text(1_000)), StatusCode.InvalidArgument),
        })
        {
            yield return new($"delivery gRPC Subscribe: {name}", () => SubscribeStreamAsync(first()), [(int)status]);
        }
        yield return new("delivery gRPC Subscribe: subscribing twice", () => SubscribeStreamAsync(Subscribe(group: Fresh("g")), Subscribe()), [(int)StatusCode.InvalidArgument]);
        yield return new("delivery gRPC Subscribe: a window change to 0", () =>
            SubscribeStreamAsync(Subscribe(group: Fresh("g")), new SubscribeRequest { SetWindow = new SetWindow { Window = 0 } }), [(int)StatusCode.InvalidArgument]);
        yield return new("delivery gRPC Subscribe: a window change to 2^31-1", () =>
            SubscribeStreamAsync(Subscribe(group: Fresh("g")), new SubscribeRequest { SetWindow = new SetWindow { Window = int.MaxValue } }), [(int)StatusCode.InvalidArgument]);
        yield return new("delivery gRPC Subscribe: malformed and unknown delivery ids, each answered with an error", () => AckErrorsAsync(
            ["", "garbage", "m.-1.0.1", "m.0.99999999999999999999.1", Payloads.Text(10_000), Payloads.Text(3 * 1024 * 1024) + ".0.0.1", "m-unknown.0.0.1"]),
            [(int)StatusCode.InvalidArgument, (int)StatusCode.NotFound]);
        yield return new("delivery gRPC Subscribe: a message of 5 MB (past the gRPC limit, 4 MB)", () =>
            SubscribeStreamAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = CanaryGroup, Topic = Canary, Window = 10, ConsumerName = Payloads.Text(5 * 1024 * 1024) } }),
            [(int)StatusCode.ResourceExhausted]);
    }

    /// <summary>A subscribe stream that sends <paramref name="messages"/> and reads until the service ends it (or 30 s pass).</summary>
    private async Task<Answer> SubscribeStreamAsync(params SubscribeRequest[] messages) => await GrpcAsync(async options =>
    {
        using var stream = new DeliveryService.DeliveryServiceClient(_deliveryGrpc).Subscribe(options);
        try
        {
            foreach (var message in messages)
            {
                await stream.RequestStream.WriteAsync(message);
            }
        }
        catch (RpcException)
        {
            // The service ended the call while a message was on its way (one past its size limit): its status is read below.
        }
        while (await stream.ResponseStream.MoveNext(options.CancellationToken))
        {
        }
    });

    /// <summary>A consumer that acks ids it was never given: each gets an AckError saying why, and the stream goes on.</summary>
    private async Task<Answer> AckErrorsAsync(string[] ids)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stream = new DeliveryService.DeliveryServiceClient(_deliveryGrpc).Subscribe(cancellationToken: timeout.Token);
        await stream.RequestStream.WriteAsync(new SubscribeRequest { Subscribe = new Subscribe { Group = Fresh("g"), Topic = Canary, Window = 1, Start = StartPosition.Latest } });
        await stream.RequestStream.WriteAsync(new SubscribeRequest { Acks = new Acks { Ack = { ids } } });
        var errors = new List<AckError>();
        try
        {
            while (errors.Count < ids.Length && await stream.ResponseStream.MoveNext(timeout.Token))
            {
                if (stream.ResponseStream.Current.AckError is { } error)
                {
                    errors.Add(error);
                }
            }
        }
        catch (RpcException ex)
        {
            return Answer.Grpc(ex.StatusCode, ex.Status.Detail);
        }
        await stream.RequestStream.CompleteAsync();
        return Worst(errors.Count == ids.Length ? null : $"{errors.Count} ack errors for {ids.Length} ids",
            errors.Select(e => ((StatusCode)e.StatusCode, e.Message)));
    }

    private async Task<Answer> RawSubscribeAsync(byte[] message) => await GrpcAsync(async options =>
    {
        var method = new Method<byte[], byte[]>(MethodType.DuplexStreaming, "broker.delivery.v1.DeliveryService", "Subscribe", s_raw, s_raw);
        using var call = _deliveryGrpc.CreateCallInvoker().AsyncDuplexStreamingCall(method, null, options);
        await call.RequestStream.WriteAsync(message);
        while (await call.ResponseStream.MoveNext(options.CancellationToken))
        {
        }
    });
}
