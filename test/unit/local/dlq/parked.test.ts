import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetter } from '../../../../src/lib/delivery/deadLetter.ts';
import { republishDecision } from '../../../../src/lib/delivery/republishDecision.ts';
import { PoisonRecordError } from '../../../../src/lib/errors.ts';
import { buildOnFailureEnvelope } from '../../../../src/lib/events/onFailureEnvelope.ts';
import type { DecodedRecord, HeaderMap } from '../../../../src/lib/events/types.ts';
import type { StoredRecord } from '../../../../src/lib/kafka/reader.ts';
import type { OutboundMessage } from '../../../../src/lib/kafka/types.ts';
import { formatList, formatReplay, formatShow } from '../../../../src/local/dlq/format.ts';
import {
  describeParked,
  matchesFilter,
  type ParkedRecord,
  parseCoordinate,
  parseReplayId,
  parseTime,
  planReplay,
  REPLAY_HEADERS,
  replayMessage,
} from '../../../../src/local/dlq/parked.ts';
import {
  decodeMarker,
  encodeMarker,
  MARKER_METADATA_MAX,
  markerCoordinates,
  selectionDigest,
} from '../../../../src/local/dlq/replayMarker.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const ORDER = '{"orderId":"ord-000007","customerId":"c-1"}';

const headerMap = (entries: Array<[string, string | Buffer]>): HeaderMap => {
  const map: HeaderMap = new Map();
  for (const [name, v] of entries)
    map.set(name, [...(map.get(name) ?? []), typeof v === 'string' ? Buffer.from(v) : v]);
  return map;
};

/** A record of `orders` as processOrders receives it. */
const orderRecord = (overrides: Partial<DecodedRecord> = {}): DecodedRecord => ({
  topic: 'orders',
  partition: 1,
  offset: 41,
  timestamp: NOW.getTime() - 60_000,
  timestampType: 'CREATE_TIME',
  key: Buffer.from('ord-000007'),
  value: Buffer.from(ORDER),
  headers: headerMap([
    ['traceparent', TRACEPARENT],
    ['app', 'one'],
    ['app', 'two'],
  ]),
  rawValue: null,
  ...overrides,
});

/** A message as it sits in a topic, read back. */
const stored = (
  message: OutboundMessage,
  at: { topic?: string; partition?: number; offset?: string; timestamp?: number } = {},
): StoredRecord => {
  const headers: HeaderMap = new Map();
  for (const [name, v] of Object.entries(message.headers ?? {}))
    headers.set(
      name,
      (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? Buffer.from(x) : x)),
    );
  const bytes = (v: Buffer | string | null) => (typeof v === 'string' ? Buffer.from(v) : v);
  return {
    topic: at.topic ?? message.topic,
    partition: at.partition ?? 0,
    offset: at.offset ?? '5',
    timestamp: at.timestamp ?? NOW.getTime(),
    key: bytes(message.key),
    value: bytes(message.value),
    headers,
  };
};

/** The dead letter processOrders writes for a record, `attempts` times through the DLQ. */
const parkedLetter = (attempts = 3, record = orderRecord()) => {
  let r: DecodedRecord = record;
  let letter = deadLetter(r, new PoisonRecordError('SCHEMA_VIOLATION', 'items: required'), {
    topic: 'orders.dlq',
    now: NOW,
  });
  for (let a = 2; a <= attempts; a++) {
    const s = stored(letter);
    r = {
      ...record,
      offset: record.offset + a,
      headers: s.headers,
    };
    r.headers.set(DLQ_HEADERS.attempts, [Buffer.from(String(a))]);
    letter = deadLetter(r, new PoisonRecordError('SCHEMA_VIOLATION', 'items: required'), {
      topic: 'orders.dlq',
      now: NOW,
    });
  }
  return stored({ ...letter, topic: 'orders.parking-lot' }, { offset: String(100 + attempts) });
};

const envelopeOf = (record: DecodedRecord, topic = 'orders.dlq', invokes = 6): StoredRecord =>
  stored(
    {
      topic,
      key: record.key,
      value: JSON.stringify(
        buildOnFailureEnvelope({
          record,
          bootstrapServers: 'b-1:9098',
          requestId: 'req-1',
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:processOrders',
          approximateInvokeCount: invokes,
          now: NOW,
        }),
      ),
    },
    { offset: '9' },
  );

const asDecoded = (m: OutboundMessage, offset = 77): DecodedRecord => {
  const s = stored(m);
  return { ...orderRecord(), offset, key: s.key, value: s.value, headers: s.headers };
};

describe('describeParked', () => {
  it('reads the x-dlq-* story of a dead letter processOrders wrote', () => {
    // Prepare
    const record = parkedLetter(3);

    // Act
    const parked = describeParked(record);

    // Assess
    expect(parked).toMatchObject({
      topic: 'orders.parking-lot',
      offset: '103',
      errorCode: 'SCHEMA_VIOLATION',
      codes: ['SCHEMA_VIOLATION'],
      attempts: 3,
      source: 'handler',
      orderId: 'ord-000007',
      original: { topic: 'orders', partition: 1, offset: '41' },
      envelopes: [],
    });
    expect(parked.history).toHaveLength(3);
    expect(parked.history[0]).toMatchObject({ attempt: 1, code: 'SCHEMA_VIOLATION' });
    expect(parked.notReplayable).toBeUndefined();
  });

  it('unwraps an AWS on-failure envelope down to the original record', () => {
    const original = orderRecord();
    const parked = describeParked(envelopeOf(original));

    expect(parked.errorCode).toBe('RETRIES_EXHAUSTED');
    expect(parked.source).toBe('esm-on-failure');
    expect(parked.envelopes).toMatchObject([
      { condition: 'RetriesExhausted', approximateInvokeCount: 6 },
    ]);
    expect(parked.original).toEqual({ topic: 'orders', partition: 1, offset: '41' });
    expect(parked.payload.key).toEqual(original.key);
    expect(parked.payload.value).toEqual(original.value);
    expect(parked.payload.headers.get('traceparent')).toEqual([Buffer.from(TRACEPARENT)]);
    expect(parked.orderId).toBe('ord-000007');
  });

  it("unwraps the DLQ mapping's envelope of a dead letter, keeping every code of the story", () => {
    // republishDlq's mapping gave up on a dead letter: the parking lot holds its envelope
    const letter = parkedLetter(2);
    const dlqRecord: DecodedRecord = {
      ...orderRecord(),
      topic: 'orders.dlq',
      offset: 3,
      key: letter.key,
      value: letter.value,
      headers: letter.headers,
    };
    const parked = describeParked(envelopeOf(dlqRecord, 'orders.parking-lot'));

    expect(parked.errorCode).toBe('RETRIES_EXHAUSTED');
    expect(parked.codes.sort()).toEqual(['RETRIES_EXHAUSTED', 'SCHEMA_VIOLATION']);
    expect(parked.original).toMatchObject({ topic: 'orders', offset: '41' });
    expect(parked.payload.value?.toString()).toBe(ORDER);
    expect(parked.attempts).toBe(2);
  });

  it('refuses a record whose bytes were never known', () => {
    const letter = deadLetter(
      orderRecord({
        value: null,
        rawValue: '%%%not-base64',
        decodeError: { code: 'INVALID_BASE64', message: 'bad' },
      }),
      new PoisonRecordError('INVALID_BASE64', 'bad'),
      { topic: 'orders.dlq', now: NOW },
    );
    expect(describeParked(stored(letter)).notReplayable).toMatch(/x-dlq-value-encoding/);
  });

  it('refuses an envelope whose payload holds no record', () => {
    const value = JSON.stringify({
      requestContext: { condition: 'RetriesExhausted' },
      KafkaBatchInfo: {},
      payload: { eventSource: 'aws:kafka', records: {} },
    });
    const parked = describeParked(stored({ topic: 'orders.dlq', key: null, value }));
    expect(parked.notReplayable).toMatch(/without a readable record/);
    expect(parked.errorCode).toBe('RETRIES_EXHAUSTED');
  });

  it('takes the order id from the key when the value is not JSON', () => {
    const parked = describeParked(
      stored({ topic: 'orders.parking-lot', key: 'ord-9', value: 'not json' }),
    );
    expect(parked.orderId).toBe('ord-9');
    expect(parked.errorCode).toBeUndefined();
  });
});

describe('replayMessage', () => {
  it('puts back key, value and non-dlq headers, resets the failure state and adds the replay headers', () => {
    // Prepare
    const parked = describeParked(parkedLetter(3));

    // Act
    const m = replayMessage(parked, { topic: 'orders', replayId: 'fix-1', now: NOW });

    // Assess
    expect(m.topic).toBe('orders');
    expect(m.partition).toBeUndefined();
    expect(m.timestamp).toBeUndefined();
    expect(m.key).toEqual(Buffer.from('ord-000007'));
    expect(m.value).toEqual(Buffer.from(ORDER));
    const h = m.headers!;
    expect(h.traceparent).toEqual(Buffer.from(TRACEPARENT));
    expect(h.app).toEqual([Buffer.from('one'), Buffer.from('two')]);
    expect(h[REPLAY_HEADERS.replayId]).toBe('fix-1');
    expect(h[REPLAY_HEADERS.replayedAt]).toBe(NOW.toISOString());
    expect(h[REPLAY_HEADERS.replayedFrom]).toBe('orders.parking-lot:0:103');
    for (const name of Object.values(DLQ_HEADERS).filter((n) => n !== DLQ_HEADERS.history))
      expect(h[name]).toBeUndefined();
    expect(h[DLQ_HEADERS.history]).toHaveLength(3);
  });

  it('makes a record that fails again a first attempt for processOrders and republishDlq', () => {
    // Prepare: replay a record parked after 3 attempts, and read it back from orders
    const replayed = replayMessage(describeParked(parkedLetter(3)), {
      topic: 'orders',
      replayId: 'fix-1',
      now: NOW,
    });

    // Act: it fails again in processOrders, then republishDlq decides
    const letter = deadLetter(asDecoded(replayed), new PoisonRecordError('NOT_JSON', 'x'), {
      topic: 'orders.dlq',
      now: NOW,
      backoff: { baseMs: 0, maxMs: 0 },
    });
    const decision = republishDecision(
      { ...asDecoded(letter), topic: 'orders.dlq' },
      {
        now: new Date(NOW.getTime() + 1),
        maxAttempts: 3,
        parkingLotTopic: 'orders.parking-lot',
        republishTopics: new Set(['orders']),
      },
    );

    // Assess
    expect(letter.headers?.[DLQ_HEADERS.attempts]).toBe('1');
    expect(letter.headers?.[DLQ_HEADERS.originalOffset]).toBe('77');
    expect(letter.headers?.[DLQ_HEADERS.firstFailedAt]).toBe(NOW.toISOString());
    expect(letter.headers?.[REPLAY_HEADERS.replayId]).toEqual(Buffer.from('fix-1'));
    expect(decision).toMatchObject({ action: 'republish', attempts: 2 });
  });

  it('replays the original record of an AWS envelope, not the envelope', () => {
    const original = orderRecord();
    const m = replayMessage(describeParked(envelopeOf(original)), {
      topic: 'orders',
      replayId: 'r',
      now: NOW,
    });
    expect(m.key).toEqual(original.key);
    expect(m.value).toEqual(original.value);
    expect(m.headers?.traceparent).toEqual(Buffer.from(TRACEPARENT));
  });
});

describe('matchesFilter', () => {
  const parked = describeParked(parkedLetter(3));

  it.each([
    [{}, true],
    [{ codes: ['SCHEMA_VIOLATION'] }, true],
    [{ codes: ['NOT_JSON'] }, false],
    [{ originalTopics: ['orders'] }, true],
    [{ originalTopics: ['other'] }, false],
    [{ orderIds: ['ord-000007'] }, true],
    [{ orderIds: ['ord-1'] }, false],
    [{ since: new Date(NOW.getTime() - 1) }, true],
    [{ since: new Date(NOW.getTime() + 1) }, false],
    [{ until: new Date(NOW.getTime() + 1) }, true],
    [{ until: NOW }, false],
    [{ coordinates: new Set(['orders.parking-lot:0:103']) }, true],
    [{ coordinates: new Set(['orders.parking-lot:0:104']) }, false],
  ])('%o → %s', (filter, expected) => {
    expect(matchesFilter(parked, filter)).toBe(expected);
  });

  it('finds an order by its key when the value is not JSON', () => {
    const bad = describeParked(stored({ topic: 'orders.parking-lot', key: 'ord-2', value: '{' }));
    expect(matchesFilter(bad, { orderIds: ['ord-2'] })).toBe(true);
  });

  it('finds an order by orderId in the value when the key says something else', () => {
    const r = describeParked(stored({ topic: 'orders.parking-lot', key: 'k', value: ORDER }));
    expect(matchesFilter(r, { orderIds: ['ord-000007'] })).toBe(true);
    expect(matchesFilter(r, { orderIds: ['k'] })).toBe(true);
  });
});

describe('planReplay', () => {
  const at = (r: StoredRecord, topic: string, offset: string): ParkedRecord =>
    describeParked({ ...r, topic, offset });

  it('puts back one copy per original record: the latest attempt', () => {
    // Prepare: one order dead-lettered three times and parked, one other order parked
    const dlq = [1, 2, 3].map((a) => at(parkedLetter(a), 'orders.dlq', String(a)));
    const parked = at(parkedLetter(3), 'orders.parking-lot', '50');
    const other = at(parkedLetter(3, orderRecord({ offset: 99 })), 'orders.parking-lot', '51');

    // Act
    const plan = planReplay([...dlq, parked, other]);

    // Assess
    expect(plan.replay.map((r) => `${r.topic}:${r.offset}`)).toEqual([
      'orders.parking-lot:50',
      'orders.parking-lot:51',
    ]);
    expect(plan.skipped).toHaveLength(3);
    expect(plan.skipped[0]?.reason).toMatch(/earlier copy of the record orders:1:41/);
  });

  it('leaves out what cannot be replayed and what an earlier replay put back', () => {
    const a = at(parkedLetter(3), 'orders.parking-lot', '1');
    const b = at(parkedLetter(3, orderRecord({ offset: 5 })), 'orders.parking-lot', '2');
    const c = { ...at(parkedLetter(3, orderRecord({ offset: 6 })), 'orders.parking-lot', '3') };
    c.notReplayable = 'bytes unknown';

    const plan = planReplay([a, b, c], new Map([['orders.parking-lot:0:1', 'earlier-id']]));

    expect(plan.replay).toEqual([b]);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      'already replayed by replay earlier-id',
      'bytes unknown',
    ]);
  });
});

describe('replay marker', () => {
  const records = [1, 2, 3].map((i) =>
    describeParked({ ...parkedLetter(3), partition: i % 2, offset: String(i) }),
  );

  it('round-trips what was replayed', () => {
    const marker = decodeMarker(encodeMarker(records, { to: 'orders', at: NOW }));
    expect(marker).toMatchObject({ v: 1, n: 3, to: 'orders', at: NOW.toISOString() });
    expect(marker?.digest).toBe(selectionDigest([...records].reverse()));
    expect(markerCoordinates(marker!).sort()).toEqual([
      'orders.parking-lot:0:2',
      'orders.parking-lot:1:1',
      'orders.parking-lot:1:3',
    ]);
  });

  it('keeps count and digest only when the list does not fit the offset metadata', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      describeParked({ ...parkedLetter(1), offset: String(1_000_000 + i) }),
    );
    const metadata = encodeMarker(many, { to: 'orders', at: NOW });
    expect(Buffer.byteLength(metadata)).toBeLessThanOrEqual(MARKER_METADATA_MAX);
    const marker = decodeMarker(metadata)!;
    expect(marker.n).toBe(500);
    expect(marker.from).toBeUndefined();
    expect(markerCoordinates(marker)).toEqual([]);
  });

  it.each([null, '', 'x', '{"v":2}', '[]'])('reads %o as no marker of this tool', (m) => {
    expect(decodeMarker(m)).toBeUndefined();
  });
});

describe('operator input', () => {
  it('parses coordinates, with short names for the configured topics', () => {
    expect(parseCoordinate('parking-lot:2:42', { 'parking-lot': 'svc.parking-lot' })).toEqual({
      topic: 'svc.parking-lot',
      partition: 2,
      offset: '42',
    });
    expect(parseCoordinate('orders.dlq:0:9007199254740993').offset).toBe('9007199254740993');
  });

  it.each(['orders', 'orders:1', 'orders:a:1', 'or ders:1:1', 'orders:1:-1', ''])(
    'refuses the coordinate %o',
    (text) => {
      expect(() => parseCoordinate(text)).toThrow(/<topic>:<partition>:<offset>/);
    },
  );

  it('parses times: ISO-8601 or a duration ago', () => {
    expect(parseTime('2h', NOW)).toEqual(new Date('2026-03-01T10:00:00.000Z'));
    expect(parseTime('7d', NOW)).toEqual(new Date('2026-02-22T12:00:00.000Z'));
    expect(parseTime('2026-02-01', NOW)).toEqual(new Date('2026-02-01T00:00:00.000Z'));
    expect(parseTime('2026-02-01T08:30:00+02:00', NOW)).toEqual(
      new Date('2026-02-01T06:30:00.000Z'),
    );
    for (const bad of ['yesterday', '2h ago', '5w', '2026-13-45', '1700000000'])
      expect(() => parseTime(bad, NOW)).toThrow(/is not a time/);
  });

  it('accepts replay ids that fit a transactional id and a group id', () => {
    expect(parseReplayId('2026-03-01.fix_42')).toBe('2026-03-01.fix_42');
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(101), 'ü'])
      expect(() => parseReplayId(bad)).toThrow(/replay id/);
  });
});

describe('output', () => {
  it('lists a record with its history, and says when the read was incomplete', () => {
    const text = formatList({
      records: [describeParked(parkedLetter(2))],
      complete: false,
      unfinished: [{ topic: 'orders.dlq', partition: 1, from: '5', to: '9' }],
      scanned: 4,
    });
    expect(text).toContain('orders.parking-lot:0:102');
    expect(text).toContain('SCHEMA_VIOLATION  attempts 2  order ord-000007  from orders/1@41');
    expect(text).toContain('history #2 SCHEMA_VIOLATION');
    expect(text).toContain('1 record(s) matched of 4 read');
    expect(text).toContain('INCOMPLETE: stopped at the time limit before orders.dlq/1 (at 5 of 9)');
  });

  it('shows every header decoded, binary ones as base64, and a JSON value pretty-printed', () => {
    const record = parkedLetter(1);
    record.headers.set('bin', [Buffer.from([0xff, 0x00, 0x01])]);
    const text = formatShow(record, describeParked(record));
    expect(text).toContain(`traceparent: ${TRACEPARENT}`);
    expect(text).toContain('bin: base64:/wAB');
    expect(text).toContain('x-dlq-error-code: SCHEMA_VIOLATION');
    expect(text).toContain('    "orderId": "ord-000007",');
  });

  it('says a dry run wrote nothing and how to act', () => {
    const parked = describeParked(parkedLetter(3));
    const text = formatReplay(
      {
        status: 'dry-run',
        replayId: undefined,
        messages: [replayMessage(parked, { topic: 'orders', replayId: '?', now: NOW })],
        replay: [parked],
        skipped: [],
      },
      '2026-03-01-abcd',
    );
    expect(text).toMatch(/^DRY RUN: nothing written\. Would replay 1 record/);
    expect(text).toContain('--yes --replay-id 2026-03-01-abcd');
  });
});
