using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Avro.Generic;
using Avro.IO;
using Broker.Contracts.Ingest;
using Broker.Ingest.Tests.Hosting;
using Broker.Schemas.Avro;
using Broker.Schemas.Wire;
using Broker.Testing;
using Google.Protobuf;

namespace Broker.Ingest.Tests.Produce;

/// <summary>A topic with schema validation takes only registered Avro of its subject, in the wire format; a refusal writes nothing.</summary>
[Collection(RedisCollection.Name)]
public sealed class SchemaEnforcementTests(RedisFixture redis) : IAsyncLifetime
{
    private const string Payment = """{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"},{"name":"amount","type":"double"}]}""";
    private const string Other = """{"type":"record","name":"Other","fields":[{"name":"n","type":"int"}]}""";
    private BrokerHosts _hosts = null!;
    private int _paymentId;
    private int _otherId;

    public async Task InitializeAsync()
    {
        _hosts = BrokerHosts.Start(redis.ConnectionString, redis.NewPrefix("schemas"));
        await _hosts.CreateTopicAsync("payments", partitions: 2, schemaValidation: true);
        await _hosts.CreateTopicAsync("free", partitions: 1);
        _paymentId = await _hosts.RegisterSchemaAsync("payments-value", Payment);
        _otherId = await _hosts.RegisterSchemaAsync("others-value", Other);
    }

    public async Task DisposeAsync() => await _hosts.DisposeAsync();

    [Fact]
    public async Task A_framed_record_of_the_subjects_schema_is_accepted_over_grpc_and_http()
    {
        var framed = Framed(_paymentId, Payment, """{"id":"p-1","amount":9.5}""");
        var grpc = await ProduceGrpcAsync("payments", framed);
        Assert.Equal(0, grpc.StatusCode);

        using var content = new ByteArrayContent(framed);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var http = await _hosts.IngestHttp.PostAsync("/v1/topics/payments/records", content);
        Assert.Equal(HttpStatusCode.OK, http.StatusCode);
        Assert.Equal(2, (await _hosts.Storage.EndOffsetsAsync("payments")).Sum());
    }

    [Theory]
    [InlineData("magic", "magic byte 0")]
    [InlineData("unknown-id", "is not registered")]
    [InlineData("other-subject", "not registered under subject 'payments-value'")]
    [InlineData("truncated", "does not decode")]
    [InlineData("trailing", "left over")]
    [InlineData("short", "shorter than the 5-byte schema header")]
    public async Task Records_that_are_not_the_subjects_avro_are_refused_with_a_message_and_nothing_is_written(string fault, string mentioned)
    {
        var good = Framed(_paymentId, Payment, """{"id":"p-1","amount":9.5}""");
        var value = fault switch
        {
            "magic" => [1, .. good[1..]],
            "unknown-id" => Framed(987_654, Payment, """{"id":"p-1","amount":9.5}"""),
            "other-subject" => Framed(_otherId, Other, """{"n":1}"""),
            "truncated" => good[..^3],
            "trailing" => [.. good, 7],
            _ => good[..4],
        };
        var before = (await _hosts.Storage.EndOffsetsAsync("payments")).Sum();

        // One good record and one bad in the same request: the request is refused whole.
        var grpc = await ProduceGrpcAsync("payments", good, value);
        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, grpc.StatusCode);
        Assert.Contains(mentioned, grpc.StatusMessage, StringComparison.Ordinal);
        Assert.Contains("Record 1", grpc.StatusMessage, StringComparison.Ordinal);

        using var http = await _hosts.IngestHttp.PostAsJsonAsync("/v1/topics/payments/records", new
        {
            records = new[] { new { valueBase64 = Convert.ToBase64String(value) } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, http.StatusCode);
        var problem = await http.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(mentioned, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, (await _hosts.Storage.EndOffsetsAsync("payments")).Sum());
    }

    [Fact]
    public async Task Json_values_with_a_value_schema_id_are_encoded_to_avro_on_the_way_in()
    {
        using var response = await _hosts.IngestHttp.PostAsJsonAsync("/v1/topics/payments/records", new
        {
            valueSchemaId = _paymentId,
            records = new object[] { new { key = "k1", value = new { id = "p-7", amount = 70.25 } }, new { value = new { id = "p-8", amount = 1.0 } } },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var offsets = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("offsets");
        var first = offsets[0];
        var stored = (await _hosts.Storage.ReadAllAsync("payments", first.GetProperty("partition").GetInt32()))
            .Single(r => r.Offset == first.GetProperty("offset").GetInt64());
        Assert.True(ConfluentWireFormat.TryRead(stored.Value.Span, out var id, out _, out _));
        Assert.Equal(_paymentId, id);
        var schema = AvroCanonicalForm.Parse(Payment).Schema;
        var record = (GenericRecord)new GenericDatumReader<object>(schema, schema).Read(null!,
            new BinaryDecoder(new MemoryStream(stored.Value[ConfluentWireFormat.HeaderSize..].ToArray())));
        Assert.Equal("p-7", record["id"]);
        Assert.Equal(70.25, record["amount"]);

        using var misfit = await _hosts.IngestHttp.PostAsJsonAsync("/v1/topics/payments/records", new
        {
            records = new object[] { new { valueSchemaId = _paymentId, value = new { id = 5 } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, misfit.StatusCode);
        Assert.Contains("/id", (await misfit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // An id of another subject encodes, and then the topic refuses it.
        using var foreign = await _hosts.IngestHttp.PostAsJsonAsync("/v1/topics/payments/records", new
        {
            valueSchemaId = _otherId,
            records = new object[] { new { value = new { n = 1 } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, foreign.StatusCode);
    }

    [Fact]
    public async Task A_topic_naming_its_own_subject_takes_that_subjects_ids_and_refuses_the_default_subjects()
    {
        using (var created = await _hosts.StorageHttp.PutAsJsonAsync("/v1/topics/ledger", new { partitions = 1, schemaValidation = true, schemaSubject = "others-value" }))
        {
            created.EnsureSuccessStatusCode();
        }
        Assert.Equal(0, (await ProduceGrpcAsync("ledger", Framed(_otherId, Other, """{"n":3}"""))).StatusCode);

        var refused = await ProduceGrpcAsync("ledger", Framed(_paymentId, Payment, """{"id":"p-1","amount":1.0}"""));
        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("not registered under subject 'others-value'", refused.StatusMessage, StringComparison.Ordinal);
        Assert.Equal(1, (await _hosts.Storage.EndOffsetsAsync("ledger")).Sum());
    }

    [Theory]
    [InlineData(false, "null")]
    [InlineData(true, "int")]
    public async Task A_record_of_a_schema_bomb_is_checked_in_milliseconds(bool nullable, string leaf)
    {
        // Named types each used twice by the next, 30 deep: a walk that expands them takes 2^30 steps. With a null
        // leaf R0 takes no bytes, so the record is 6 bytes: the header and the union's index of R0.
        var topic = nullable ? "bombs-nullable" : "bombs";
        await _hosts.CreateTopicAsync(topic, partitions: 1, schemaValidation: true);
        var id = await _hosts.RegisterSchemaAsync($"{topic}-value", AvroBombs.UnionRoot(30, nullable, leaf));
        byte[] body = nullable ? [60, .. Enumerable.Range(0, 30).SelectMany(_ => new byte[] { 2 }), 2, .. Enumerable.Repeat((byte)0, 30)] : [60];
        var framed = new byte[ConfluentWireFormat.HeaderSize + body.Length];
        ConfluentWireFormat.WriteHeader(framed, id);
        body.CopyTo(framed, ConfluentWireFormat.HeaderSize);
        Assert.Equal(nullable ? 67 : 6, framed.Length);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var accepted = await ProduceGrpcAsync(topic, framed);
        Assert.Equal(0, accepted.StatusCode);
        var refused = await ProduceGrpcAsync(topic, [.. framed, 2]);
        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, refused.StatusCode);
        // Generous: the first record also fetches and parses the schema; the point is milliseconds, not 2^30 steps.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_topic_without_schema_validation_takes_any_bytes()
    {
        var response = await ProduceGrpcAsync("free", [1, 2, 3]);
        Assert.Equal(0, response.StatusCode);
    }

    private static byte[] Framed(int id, string schema, string json)
    {
        using var document = JsonDocument.Parse(json);
        var body = AvroJsonEncoder.Encode(AvroCanonicalForm.Parse(schema).Schema, document.RootElement);
        var framed = new byte[ConfluentWireFormat.HeaderSize + body.Length];
        ConfluentWireFormat.WriteHeader(framed, id);
        body.CopyTo(framed, ConfluentWireFormat.HeaderSize);
        return framed;
    }

    private async Task<ProduceResponse> ProduceGrpcAsync(string topic, params byte[][] values)
    {
        using var call = _hosts.Ingest.Produce();
        var request = new ProduceRequest { RequestId = 1, Topic = topic };
        foreach (var value in values)
        {
            request.Records.Add(new ProduceRecord { Value = ByteString.CopyFrom(value) });
        }
        await call.RequestStream.WriteAsync(request);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current;
    }
}
