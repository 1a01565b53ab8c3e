/**
 * The `kafka://` on-failure destination: one message per failed record, holding AWS's
 * JSON envelope around the record, keyed as the record was.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { safeMessage } from '../../lib/errors.ts';
import { decodeKafkaRecord } from '../../lib/events/decode.ts';
import {
  buildOnFailureEnvelope,
  type OnFailureEnvelope,
} from '../../lib/events/onFailureEnvelope.ts';
import type { OutboundMessage } from '../../lib/kafka/index.ts';
import type { AfterResponse } from './afterResponse.ts';
import type { PartitionState, Slice } from './batches.ts';
import type { EventEnvelope, EventRecordEntry } from './eventPayload.ts';
import type { LocalMappingStats, OnFailureReport } from './types.ts';

/** A record the mapping gives up on, and what the envelope says about it. */
export interface DeadLetter {
  state: PartitionState;
  entry: EventRecordEntry;
  approximateInvokeCount: number;
  requestId: string;
  responseContext: OnFailureEnvelope['responseContext'];
}

/** Where the envelopes go and what they say about the mapping. */
export interface OnFailureTarget {
  /** The destination topic. */
  destination: string;
  /** The mapping's topic. */
  topic: string;
  envelope: EventEnvelope;
  functionArn: string;
}

/**
 * The destination messages for `items`, one per record.
 *
 * @example
 * onFailureMessages(deadLetters, 'RetriesExhausted', { destination: 'orders.dlq', topic: 'orders', envelope, functionArn })
 */
export const onFailureMessages = (
  items: readonly DeadLetter[],
  condition: string,
  target: OnFailureTarget,
): OutboundMessage[] =>
  items.map((d) => {
    const record = decodeKafkaRecord(d.entry.record, {
      partitionKey: d.state.key,
      topic: target.topic,
      partition: d.state.partition,
    });
    const envelope = buildOnFailureEnvelope({
      record,
      eventSource: target.envelope.eventSource,
      ...(target.envelope.eventSourceArn === undefined
        ? {}
        : { eventSourceArn: target.envelope.eventSourceArn }),
      bootstrapServers: target.envelope.bootstrapServers,
      requestId: d.requestId,
      functionArn: target.functionArn,
      approximateInvokeCount: d.approximateInvokeCount,
      condition,
      responseContext: d.responseContext,
    });
    // Lambda keeps the record's key on the destination message.
    return { topic: target.destination, key: record.key, value: JSON.stringify(envelope) };
  });

/**
 * The records an invocation's decision gives up on: the failed record of each partition
 * whose retries are used up, or every record when the whole batch's are.
 *
 * @example
 * deadLettersOf(afterResponse(result, delivered, 3, policy, now), batch.slices, requestId)
 */
export const deadLettersOf = (
  decision: AfterResponse,
  slices: readonly Slice[],
  requestId: string,
): DeadLetter[] => {
  if (decision.kind === 'per-partition')
    return slices.flatMap(({ state, entries }, i) => {
      const step = decision.steps[i];
      if (step?.kind !== 'on-failure') return [];
      const entry = entries.find((e) => e.record.offset === step.next);
      if (!entry) return [];
      return [
        {
          state,
          entry,
          approximateInvokeCount: step.approximateInvokeCount,
          requestId,
          responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        },
      ];
    });
  if (decision.kind !== 'on-failure') return [];
  return slices.flatMap(({ state, entries }) =>
    entries.map((entry) => ({
      state,
      entry,
      approximateInvokeCount: decision.approximateInvokeCount,
      requestId,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    })),
  );
};

/** What writing to the destination needs of the mapping. */
export interface OnFailureWriterDeps {
  functionName: string;
  /** `undefined`: no destination, the records are discarded (and counted). */
  destination: string | undefined;
  target: Omit<OnFailureTarget, 'destination'>;
  write(messages: OutboundMessage[]): Promise<unknown>;
  stats: Pick<LocalMappingStats, 'discardedRecords' | 'onFailureRecords'>;
  report(report: OnFailureReport): void;
  warn(message: string): void;
  stopping(): boolean;
  /** The wait before try `attempt + 1`. */
  delay(attempt: number): number;
}

/**
 * Writes one AWS on-failure envelope per record of a still assigned partition, trying
 * again until it works; `false` if it could not (stopping, or no partition still held).
 *
 * @example
 * if (await writeOnFailure(deadLetters, 'RetriesExhausted', deps)) advancePastThem();
 */
export const writeOnFailure = async (
  items: readonly DeadLetter[],
  condition: string,
  deps: OnFailureWriterDeps,
): Promise<boolean> => {
  const live = items.filter((d) => d.state.assigned);
  if (live.length === 0) return false;
  const { destination } = deps;
  const report: OnFailureReport = {
    type: 'on-failure',
    functionName: deps.functionName,
    destination,
    condition,
    records: live.map((d) => ({ partition: d.state.key, offset: d.entry.record.offset })),
  };
  if (destination === undefined) {
    deps.stats.discardedRecords += live.length;
    deps.report(report);
    return true;
  }
  const messages = onFailureMessages(live, condition, { ...deps.target, destination });
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.write(messages);
      deps.stats.onFailureRecords += live.length;
      deps.report(report);
      return true;
    } catch (error) {
      deps.warn(
        `writing to on-failure destination ${destination} failed: ${safeMessage(error, 300)}`,
      );
      if (deps.stopping()) return false;
      await sleep(deps.delay(attempt));
    }
  }
};
