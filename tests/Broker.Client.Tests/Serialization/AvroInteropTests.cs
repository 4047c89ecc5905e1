using Avro;
using Avro.Generic;
using Broker.Client.Avro;
using Broker.Client.Consuming;
using Broker.Client.Producing;
using Broker.Client.Serialization;
using Broker.Client.Tests.Hosting;
using Broker.Testing;
using Confluent.SchemaRegistry;
using ConfluentAvro = Confluent.SchemaRegistry.Serdes;
using ConfluentKafka = Confluent.Kafka;

namespace Broker.Client.Tests.Serialization;

/// <summary>Our Avro serdes and Confluent's, through the broker and its registry: bytes written by one are read by the other.</summary>
[Collection(RedisCollection.Name)]
public sealed class AvroInteropTests(RedisFixture redis)
{
    private static readonly RecordSchema s_payment = (RecordSchema)global::Avro.Schema.Parse(
        """{"type":"record","name":"Payment","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"amount","type":"double"},{"name":"note","type":["null","string"],"default":null}]}""");

    [Fact]
    public async Task Records_written_by_our_Avro_serializer_are_read_by_Confluents_and_the_other_way_round()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("payments", 1);
        using var registry = new SchemaRegistryClient(broker.ClientOptions);
        using var confluentRegistry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = broker.Registry.ToString() });

        // Ours writes, Confluent's reads.
        await using (var producer = new BrokerProducer<string, GenericRecord>(broker.ClientOptions, valueSerializer: new AvroSerializer<GenericRecord>(registry)))
        {
            await producer.ProduceAsync("payments", "p-1", Payment("p-1", 12.5, "first"));
        }
        var confluentReader = new ConfluentAvro.AvroDeserializer<GenericRecord>(confluentRegistry);
        var raw = await ConsumeOneAsync<byte[]>(broker, "raw", Deserializers.ByteArray);
        var read = await confluentReader.DeserializeAsync(raw, isNull: false, new ConfluentKafka.SerializationContext(ConfluentKafka.MessageComponentType.Value, "payments"));
        Assert.Equal("p-1", read["id"]);
        Assert.Equal(12.5, read["amount"]);
        Assert.Equal("first", read["note"]);

        // Confluent's writes (under the subject ours registered), ours reads.
        var confluentWriter = new ConfluentAvro.AvroSerializer<GenericRecord>(confluentRegistry);
        var bytes = await confluentWriter.SerializeAsync(Payment("p-2", 7.25, null), new ConfluentKafka.SerializationContext(ConfluentKafka.MessageComponentType.Value, "payments"));
        await using (var producer = new BrokerProducer<string, byte[]>(broker.ClientOptions))
        {
            await producer.ProduceAsync("payments", "p-2", bytes);
        }
        var ours = await ConsumeOneAsync(broker, "typed", new AvroDeserializer<GenericRecord>(registry), skip: 1);
        Assert.Equal("p-2", ours["id"]);
        Assert.Equal(7.25, ours["amount"]);
        Assert.Null(ours["note"]);

        // Both used the one schema the registry holds for payments-value.
        Assert.Equal(await registry.GetIdAsync("payments-value", s_payment.ToString(), register: false),
            (await confluentRegistry.GetLatestSchemaAsync("payments-value")).Id);
    }

    [Fact]
    public async Task Without_auto_registration_an_unknown_schema_is_a_clear_error_before_anything_is_sent()
    {
        await using var broker = LiveBroker.Start(redis);
        await broker.CreateTopicAsync("strict", 1);
        using var registry = new SchemaRegistryClient(broker.ClientOptions);
        await using var producer = new BrokerProducer<string, GenericRecord>(broker.ClientOptions,
            valueSerializer: new AvroSerializer<GenericRecord>(registry, new AvroSerializerOptions { AutoRegisterSchemas = false }));
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync("strict", "k", Payment("p", 1, null)));
        Assert.IsType<SchemaRegistryRefusedException>(refused.InnerException);
        Assert.Contains("strict-value", refused.InnerException!.Message, StringComparison.Ordinal);
    }

    private static GenericRecord Payment(string id, double amount, string? note)
    {
        var record = new GenericRecord(s_payment);
        record.Add("id", id);
        record.Add("amount", amount);
        record.Add("note", note);
        return record;
    }

    private static async Task<T> ConsumeOneAsync<T>(LiveBroker broker, string group, IDeserializer<T> values, int skip = 0)
    {
        await using var consumer = new BrokerConsumer<string, T>(broker.ClientOptions, group, ["payments"], valueDeserializer: values);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var message in consumer.ConsumeAsync(timeout.Token))
        {
            await consumer.AckAsync(message);
            if (message.Offset >= skip)
            {
                return message.Value;
            }
        }
        throw new InvalidOperationException("nothing consumed");
    }
}
