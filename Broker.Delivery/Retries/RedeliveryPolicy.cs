using Broker.Delivery.Consuming;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Broker.Delivery.Retries;

/// <summary>
/// What happens to a record after a failed delivery: a Polly retry loop around "deliver again and wait for
/// the outcome", with exponential backoff (and decorrelated jitter unless switched off) between attempts,
/// until the record is acked or expires, or the topic's attempts run out. Records that never fail never
/// enter it: the first delivery is the plain fast path.
/// </summary>
internal sealed class RedeliveryPolicy
{
    private readonly ResiliencePipeline<AttemptOutcome> _pipeline;

    public RedeliveryPolicy(IOptions<DeliveryOptions> options, TimeProvider time)
    {
        var o = options.Value;
        _pipeline = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                // Exhausted, acked and expired all end the loop; the attempts bound lives in the callback.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result == AttemptOutcome.Failed),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = o.RetryJitter,
                Delay = TimeSpan.FromMilliseconds(o.RetryBaseDelayMs),
                MaxDelay = TimeSpan.FromMilliseconds(o.RetryMaxDelayMs),
            })
            .Build();
    }

    /// <summary>
    /// Runs the retry loop of a record whose delivery just failed: that failure is the loop's first outcome,
    /// so the first wait comes before the first redelivery. <paramref name="redeliver"/> delivers once more and
    /// answers how it went. Answers the final outcome: Acked, Expired or Exhausted.
    /// </summary>
    public async Task<AttemptOutcome> RunAsync<TState>(
        TState state, bool exhausted, Func<TState, CancellationToken, ValueTask<AttemptOutcome>> redeliver, CancellationToken cancellationToken)
    {
        var loop = new Loop<TState>(state, redeliver, exhausted);
        return await _pipeline.ExecuteAsync(
            static (loop, token) => loop.NextAsync(token),
            loop, cancellationToken);
    }

    private sealed class Loop<TState>(TState state, Func<TState, CancellationToken, ValueTask<AttemptOutcome>> redeliver, bool exhausted)
    {
        private bool _started;

        public ValueTask<AttemptOutcome> NextAsync(CancellationToken cancellationToken)
        {
            if (_started)
            {
                return redeliver(state, cancellationToken);
            }
            _started = true;
            return ValueTask.FromResult(exhausted ? AttemptOutcome.Exhausted : AttemptOutcome.Failed);
        }
    }
}
