using Broker.Client.Producing;
using Broker.Contracts.Ingest;

namespace Broker.Client.Tests.Producing;

/// <summary>How an idempotent producer numbers a partition's batches, on the engine's partition state alone.</summary>
public sealed class SequenceTests
{
    [Fact]
    public void A_confirmed_send_from_before_a_renumbering_leaves_the_new_producer_id_starting_where_the_broker_expects()
    {
        var state = new ProducerEngine.PartitionState("orders", 0, idempotent: true);
        var first = Batch(state, records: 3);
        var second = Batch(state, records: 2);
        var sentFirst = new ProducerEngine.Sent(first.ProducerId, first.BaseSequence);
        Assert.Equal((0, 3), (first.BaseSequence, second.BaseSequence));

        // A failure made the partition a new producer while the first batch's send was still in flight: both batches are
        // renumbered under the new id, from 0.
        var oldId = state.ProducerId;
        state.NewProducerId();
        state.Resequence(first);
        Assert.NotEqual(oldId, first.ProducerId);

        // Then that first send is confirmed: it was written under the old id, so the broker knows nothing of the new one
        // yet, and the next batch under it must start at 0 (at 3 it would be refused as out of order).
        state.Unacked.Remove(first);
        state.Acknowledged(first, sentFirst);
        state.Resequence(second);
        Assert.Equal(state.ProducerId, second.ProducerId);
        Assert.Equal(0, second.BaseSequence);

        // A send under the current id moves it on as usual.
        state.Unacked.Remove(second);
        state.Acknowledged(second, new ProducerEngine.Sent(second.ProducerId, second.BaseSequence));
        var third = Batch(state, records: 1);
        state.Resequence(third);
        Assert.Equal(2, third.BaseSequence);
    }

    private static ProducerEngine.Batch Batch(ProducerEngine.PartitionState state, int records)
    {
        var batch = new ProducerEngine.Batch(state, created: 0);
        for (var i = 0; i < records; i++)
        {
            batch.Add(new ProduceRecord(), size: 16, completion: null!);
        }
        state.Sequence(batch);
        state.Unacked.Add(batch);
        return batch;
    }
}
