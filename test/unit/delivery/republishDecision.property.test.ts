import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, readDeadLetterHeaders } from '../../../src/lib/delivery/deadLetter.ts';
import {
  type RepublishOptions,
  republishDecision,
} from '../../../src/lib/delivery/republishDecision.ts';
import { lastHeaderText } from '../../../src/lib/events/headers.ts';
import {
  buildOnFailureEnvelope,
  parseOnFailureEnvelope,
} from '../../../src/lib/events/onFailureEnvelope.ts';
import type { DecodedRecord, HeaderMap } from '../../../src/lib/events/types.ts';
import type { OutboundMessage } from '../../../src/lib/kafka/types.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const OPTIONS: RepublishOptions = {
  now: NOW,
  maxAttempts: 3,
  parkingLotTopic: 'orders.parking-lot',
  republishTopics: new Set(['orders']),
};

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '1',
    '2',
    '3',
    '0',
    '-1',
    '1e3',
    ' 2',
    '9999999999',
    'orders',
    'orders.payments',
    'bad topic!',
    '2026-03-01T11:59:59.000Z',
    '2026-03-01T12:00:05.000Z',
    'event-raw-string',
  ),
);
const name = fc.constantFrom(...Object.values(DLQ_HEADERS), 'traceparent', 'app');
const entries = fc.array(fc.tuple(name, text), { maxLength: 14 });
// most records carry a plausible contract, then arbitrary headers on top (repeats win)
const contract = fc
  .record({
    topic: fc.constantFrom('orders', 'orders.payments'),
    attempts: fc.constantFrom('1', '2', '3', '4', '0', 'x'),
    notBefore: fc.constantFrom('2026-03-01T11:00:00.000Z', '2026-03-01T12:00:03.000Z', 'never'),
  })
  .map(
    ({ topic, attempts, notBefore }): Array<[string, string]> => [
      [DLQ_HEADERS.originalTopic, topic],
      [DLQ_HEADERS.attempts, attempts],
      [DLQ_HEADERS.notBefore, notBefore],
    ],
  );
const headers = fc.tuple(fc.option(contract, { nil: [] }), entries).map(([base, extra]) => {
  const map: HeaderMap = new Map();
  for (const [n, v] of [...base, ...extra]) map.set(n, [...(map.get(n) ?? []), Buffer.from(v)]);
  return map;
});
const envelope = fc
  .record({
    headers,
    count: fc.nat(12),
    condition: fc.constantFrom('RetriesExhausted', 'MaximumPayloadSizeExceeded'),
  })
  .map(({ headers: h, count, condition }) =>
    buildOnFailureEnvelope({
      record: {
        topic: 'orders',
        partition: 1,
        offset: 7,
        timestamp: NOW.getTime() - 1_000,
        timestampType: 'CREATE_TIME',
        key: Buffer.from('o-1'),
        value: Buffer.from('{}'),
        rawValue: null,
        headers: h,
      },
      bootstrapServers: 'localhost:9092',
      requestId: 'req-1',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-processOrders',
      approximateInvokeCount: count,
      condition,
      // ten minutes ago: the back-off of most attempts has run out
      now: new Date(NOW.getTime() - 600_000),
    }),
  )
  .map((e) => Buffer.from(JSON.stringify(e)));
const record: fc.Arbitrary<DecodedRecord> = fc
  .record({
    headers,
    value: fc.option(
      fc.oneof(
        envelope,
        text.map((t) => Buffer.from(t)),
      ),
      { nil: null },
    ),
  })
  .map(({ headers: h, value }) => ({
    topic: 'orders.dlq',
    partition: 0,
    offset: 3,
    timestamp: NOW.getTime(),
    timestampType: 'CREATE_TIME',
    key: Buffer.from('o-1'),
    value,
    rawValue: null,
    headers: h,
  }));

const attemptsWritten = (message: OutboundMessage): number => {
  const map: HeaderMap = new Map();
  for (const [n, v] of Object.entries(message.headers ?? {}))
    map.set(
      n,
      (Array.isArray(v) ? v : [v]).map((x) => Buffer.from(x)),
    );
  return Number(lastHeaderText(map, DLQ_HEADERS.attempts));
};

describe('republishDecision over arbitrary x-dlq-* headers', () => {
  it('never throws, and never counts attempts down', () => {
    fc.assert(
      fc.property(record, (r) => {
        // Act
        const decision = republishDecision(r, OPTIONS);

        // Assess
        const carried = readDeadLetterHeaders(r.headers).attempts ?? 1;
        expect(decision.attempts).toBeGreaterThanOrEqual(1);
        if (decision.action === 'wait') {
          expect(decision.notBefore.getTime()).toBeGreaterThan(NOW.getTime());
          return;
        }
        // what is written is what was decided
        expect(attemptsWritten(decision.message)).toBe(decision.attempts);
        if (decision.action === 'republish') {
          expect(decision.message.topic).toBe('orders');
          expect(decision.attempts).toBeLessThanOrEqual(OPTIONS.maxAttempts);
        } else expect(decision.message.topic).toBe(OPTIONS.parkingLotTopic);
        // a handler's dead letter (not an envelope) goes one up from the attempts it carries
        // when republished, and keeps them when parked
        const envelopeRecord = r.value !== null && parseOnFailureEnvelope(r.value) !== undefined;
        if (!envelopeRecord)
          expect(decision.attempts).toBe(decision.action === 'republish' ? carried + 1 : carried);
      }),
      { numRuns: 500 },
    );
  });

  it('draws records that reach every kind of decision', () => {
    // a fixed sample, so this says something of the generator and never flakes
    const seen = new Set<string>();
    for (const r of fc.sample(record, { numRuns: 2_000, seed: 20261125 })) {
      const decision = republishDecision(r, OPTIONS);
      seen.add(`${decision.action}:${'source' in decision ? decision.source : ''}`);
    }
    expect([...seen].sort()).toEqual([
      'park:',
      'republish:esm-on-failure',
      'republish:handler',
      'wait:',
    ]);
  });
});
