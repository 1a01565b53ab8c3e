import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { createProcessOrdersHandler } from '../../../src/lib/delivery/processOrders.ts';
import { PoisonRecordError } from '../../../src/lib/errors.ts';
import {
  decodeSchemaValue,
  eventHoldsSchemaRecords,
  eventRecordFormatOf,
  loadOrderCodecs,
  type OrderCodecs,
  parseOrderRecordValue,
} from '../../../src/lib/formats/index.ts';
import { type Order, orderSchema, parseOrder } from '../../../src/lib/orders/schema.ts';
import { orderFixture } from '../../support/fixtures.ts';
import { mskEvent } from '../../support/mskEvent.ts';
import { registryValue, withValueSchemaMetadata } from '../../support/registryRecords.ts';
import { MemoryKafka } from '../delivery/memoryKafka.ts';

const run = promisify(execFile);

let codecs: OrderCodecs;
beforeAll(async () => {
  codecs = await loadOrderCodecs();
});

const parsed = (i: number): Order => orderSchema.parse(orderFixture(i));

/** The poison error `act` throws, failing the test if it returns. */
const poison = (act: () => unknown): PoisonRecordError => {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(PoisonRecordError);
    return error as PoisonRecordError;
  }
  throw new Error('the value was accepted');
};

const CASES = [
  ['AVRO', 'SOURCE'],
  ['AVRO', 'JSON'],
  ['PROTOBUF', 'SOURCE'],
  ['PROTOBUF', 'JSON'],
  ['JSON', 'SOURCE'],
  ['JSON', 'JSON'],
] as const;

describe('parseOrderRecordValue: a registry record is the same order as its JSON', () => {
  it.each(CASES)('%s in %s form', (format, form) => {
    // Prepare
    const order = parsed(7);
    const { value, metadata } = registryValue(order, format, form, codecs);

    // Act
    const decoded = parseOrderRecordValue(value, metadata);

    // Assess
    expect(decoded).toEqual(order);
    expect(decoded).toEqual(parseOrder(Buffer.from(JSON.stringify(orderFixture(7)))));
    expect(eventRecordFormatOf(value)).toBe(format === 'JSON' ? 'JSON' : form);
  });

  it('Protobuf SOURCE from a Confluent registry (numeric id, message-index list)', () => {
    // Prepare
    const order = parsed(3);
    const { value, metadata } = registryValue(order, 'PROTOBUF', 'SOURCE', codecs, '42');

    // Act, Assess
    expect(parseOrderRecordValue(value, metadata)).toEqual(order);
  });

  it('keeps money exact: the largest safe minor amount survives Avro and Protobuf', () => {
    // Prepare
    const order = {
      ...parsed(1),
      items: [{ sku: 'S-1', quantity: 1, unitPriceMinor: 2 ** 53 - 1 }],
    };

    // Act, Assess
    for (const format of ['AVRO', 'PROTOBUF'] as const) {
      const { value, metadata } = registryValue(order, format, 'SOURCE', codecs);
      expect(parseOrderRecordValue(value, metadata).items[0]!.unitPriceMinor).toBe(2 ** 53 - 1);
    }
  });

  it('a price beyond the safe integers is SCHEMA_VIOLATION, never a rounded price', () => {
    // Prepare: int64 allows it; an order does not
    const type = codecs.protobuf.order;
    const message = type.fromObject({
      ...parsed(1),
      items: [{ sku: 'S-1', quantity: 1, unitPriceMinor: '1152921504606846977' }],
    });
    const value = Buffer.concat([Buffer.of(0), type.encode(message).finish()]);

    // Act
    const error = poison(() =>
      parseOrderRecordValue(value, { dataFormat: 'PROTOBUF', schemaId: '7' }),
    );

    // Assess
    expect(error.code).toBe('SCHEMA_VIOLATION');
    expect(error.message).toContain('unitPriceMinor');
  });

  it('a record without metadata stays UTF-8 JSON, bytes and all', () => {
    // Prepare
    const value = Buffer.from(JSON.stringify(orderFixture(2)));

    // Act, Assess
    expect(parseOrderRecordValue(value, undefined)).toEqual(parseOrder(value));
    expect(poison(() => parseOrderRecordValue(Buffer.from('not json'), undefined)).code).toBe(
      'NOT_JSON',
    );
  });
});

describe('parseOrderRecordValue: bad registry records are poison with a stable code', () => {
  const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);

  it.each(['AVRO', 'PROTOBUF'] as const)(
    '%s bytes that do not decode: UNDECODABLE_VALUE, nothing of the value in the message',
    (format) => {
      // Act
      const error = poison(() =>
        parseOrderRecordValue(garbage, { dataFormat: format, schemaId: '1' }),
      );

      // Assess
      expect(error.code).toBe('UNDECODABLE_VALUE');
      expect(error.retriable).toBe(false);
      expect(error.message).not.toMatch(/ff|255/i);
    },
  );

  it('an Avro order with bytes left over is undecodable, not silently truncated', () => {
    // Prepare
    const { value, metadata } = registryValue(parsed(1), 'AVRO', 'SOURCE', codecs);

    // Act, Assess
    expect(
      poison(() => parseOrderRecordValue(Buffer.concat([value, Buffer.of(0)]), metadata)).code,
    ).toBe('UNDECODABLE_VALUE');
  });

  it('an unknown dataFormat is UNDECODABLE_VALUE and names the known ones', () => {
    // Act
    const error = poison(() =>
      decodeSchemaValue(Buffer.from('x'), { dataFormat: 'THRIFT', schemaId: '1' }, codecs),
    );

    // Assess
    expect(error.code).toBe('UNDECODABLE_VALUE');
    expect(error.message).toContain('AVRO, PROTOBUF, JSON');
  });

  it('a JSON-form value that is not JSON is NOT_JSON', () => {
    // Act, Assess
    expect(
      poison(() =>
        parseOrderRecordValue(Buffer.from('{oops'), { dataFormat: 'AVRO', schemaId: '1' }),
      ).code,
    ).toBe('NOT_JSON');
  });

  it('a well-formed Avro order that breaks the order rules is SCHEMA_VIOLATION, as in JSON', () => {
    // Prepare
    const bad = { ...parsed(1), currency: 'XXX' } as unknown as Order;
    const { value, metadata } = registryValue(bad, 'AVRO', 'SOURCE', codecs);

    // Act
    const error = poison(() => parseOrderRecordValue(value, metadata));

    // Assess
    expect(error.code).toBe('SCHEMA_VIOLATION');
    expect(error.message).toContain('currency');
  });
});

describe('processOrders with a mixed batch', () => {
  it('processes every format in both forms beside plain JSON, and dead-letters the undecodable one', async () => {
    // Prepare
    const config = readPipelineConfig({});
    const topic = config.topics.orders;
    const kafka = new MemoryKafka();
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => kafka,
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    const encoded = CASES.map(([format, form], k) =>
      registryValue(parsed(k), format, form, codecs),
    );
    const plain = Buffer.from(JSON.stringify(orderFixture(6)));
    const undecodable = Buffer.from([0x02, 0xff, 0xff]);
    let event = mskEvent([
      ...encoded.map(({ value }, k) => ({ topic, partition: 0, offset: k, value })),
      { topic, partition: 0, offset: 6, value: plain },
      { topic, partition: 0, offset: 7, value: undecodable },
    ]);
    encoded.forEach(({ metadata }, k) => {
      event = withValueSchemaMetadata(event, { topic, partition: 0, offset: k }, metadata);
    });
    event = withValueSchemaMetadata(
      event,
      { topic, partition: 0, offset: 7 },
      { dataFormat: 'AVRO', schemaId: '1' },
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const results = kafka.messages.filter((m) => m.topic === config.topics.processed);
    expect(results.map((m) => String(m.key))).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => `ord-00000${i}`),
    );
    for (const m of results) {
      const result = JSON.parse(String(m.value));
      expect(result.status).toBe('accepted');
    }
    const dead = kafka.messages.filter((m) => m.topic === config.topics.dlq);
    expect(dead).toHaveLength(1);
    expect(String(dead[0]!.headers!['x-dlq-error-code'])).toBe('UNDECODABLE_VALUE');
    expect(String(dead[0]!.headers!['x-dlq-original-offset'])).toBe('7');
    expect(Buffer.from(dead[0]!.value as Buffer).equals(undecodable)).toBe(true);
  });
});

describe('eventHoldsSchemaRecords', () => {
  it('is true only for an event with a record carrying valueSchemaMetadata, and never throws', () => {
    // Prepare
    const meta = { dataFormat: 'AVRO', schemaId: '1' };

    // Act, Assess
    for (const junk of [null, undefined, 'x', 1, {}, { records: null }, { records: { a: 'x' } }])
      expect(eventHoldsSchemaRecords(junk)).toBe(false);
    expect(
      eventHoldsSchemaRecords({ records: { 'o-0': [null, { valueSchemaMetadata: null }] } }),
    ).toBe(false);
    expect(
      eventHoldsSchemaRecords({
        records: { 'o-0': [{}], 'o-1': [null, { valueSchemaMetadata: meta }] },
      }),
    ).toBe(true);
  });
});

describe('the format libraries load lazily', () => {
  // Which packages a fresh process has resolved after importing processOrders and
  // handling a batch: avsc and protobufjs only when a record carries schema metadata.
  const SCRIPT = `
    const { registerHooks } = require('node:module');
    const seen = new Set();
    registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });
    const loaded = () => ['avsc', 'protobufjs'].filter((p) => [...seen].some((u) => u.includes('/node_modules/' + p + '/')));
    (async () => {
      const { eventHoldsSchemaRecords, loadOrderCodecs } = await import(process.argv[1]);
      await import(process.argv[2]);
      const before = loaded();
      const event = JSON.parse(process.argv[3]);
      if (eventHoldsSchemaRecords(event)) await loadOrderCodecs();
      console.log('RESULT ' + JSON.stringify({ before, after: loaded() }));
    })();`;
  const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  const probe = async (event: unknown) => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=commonjs',
        '-e',
        SCRIPT,
        path('../../../src/lib/formats/index.ts'),
        path('../../../src/lib/delivery/processOrders.ts'),
        JSON.stringify(event),
      ],
      { timeout: 30_000 },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))!;
    return JSON.parse(line.slice('RESULT '.length)) as { before: string[]; after: string[] };
  };

  it('a JSON-only batch never loads avsc or protobufjs', async () => {
    // Act
    const { before, after } = await probe({ records: { 'orders-0': [{ offset: 0 }] } });

    // Assess
    expect(before).toEqual([]);
    expect(after).toEqual([]);
  });

  it('a batch with one Avro record loads both', async () => {
    // Act
    const { before, after } = await probe({
      records: {
        'orders-0': [{ offset: 0 }],
        'orders-1': [{ offset: 0, valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: '1' } }],
      },
    });

    // Assess
    expect(before).toEqual([]);
    expect(after).toEqual(['avsc', 'protobufjs']);
  });
});
