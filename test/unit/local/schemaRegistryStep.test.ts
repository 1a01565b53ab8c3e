import { describe, expect, it } from 'vitest';
import { ORDER_AVRO_SCHEMA, ORDER_PROTO } from '../../../src/lib/formats/definitions.ts';
import {
  encodeInFormat,
  frameForGlue,
  loadOrderCodecs,
  unframeGlue,
} from '../../../src/lib/formats/index.ts';
import { orderSchema } from '../../../src/lib/orders/schema.ts';
import type { Batch, PartitionState } from '../../../src/local/esm/batches.ts';
import type { EventRecordEntry } from '../../../src/local/esm/eventPayload.ts';
import type { DeadLetter } from '../../../src/local/esm/onFailure.ts';
import { readMappings } from '../../../src/local/esm/readMappings.ts';
import {
  prepareEntries,
  type SchemaRegistryFailureReason,
  sendRegistryFailures,
} from '../../../src/local/esm/schemaRegistry.ts';
import { orderFixture } from '../../support/fixtures.ts';
import { mskEvent } from '../../support/mskEvent.ts';

const AVRO_ID = '11111111-2222-4333-8444-555555555555';
const PROTO_ID = '66666666-7777-4888-9999-aaaaaaaaaaaa';

/** A registry that has the order schema in Avro and Protobuf, nothing else. */
const lookUp = async (id: string) =>
  id === AVRO_ID
    ? { dataFormat: 'AVRO', definition: JSON.stringify(ORDER_AVRO_SCHEMA) }
    : id === PROTO_ID
      ? { dataFormat: 'PROTOBUF', definition: ORDER_PROTO }
      : undefined;

const noWait = { warn: () => {}, delay: () => 0, stopping: () => false };

const entriesOf = (event: ReturnType<typeof mskEvent>): EventRecordEntry[] =>
  Object.values(event.records)
    .flat()
    .map((record) => ({ record, bytes: JSON.stringify(record).length, receivedAt: 0 }));

describe("the local mapping's schema-registry step", () => {
  it.each(['SOURCE', 'JSON'] as const)(
    'in %s form: converts registry records with metadata, passes plain ones, marks failures with their reason',
    async (form) => {
      // Prepare
      const codecs = await loadOrderCodecs();
      const order = orderSchema.parse(orderFixture(1));
      const avro = encodeInFormat('AVRO', 'order', order, codecs);
      const proto = encodeInFormat('PROTOBUF', 'order', order, codecs);
      const entries = entriesOf(
        mskEvent([
          { topic: 'orders', partition: 0, offset: 0, value: frameForGlue('AVRO', avro, AVRO_ID) },
          {
            topic: 'orders',
            partition: 0,
            offset: 1,
            value: frameForGlue('PROTOBUF', proto, PROTO_ID),
          },
          { topic: 'orders', partition: 0, offset: 2, value: '{"plain":"json"}' },
          {
            topic: 'orders',
            partition: 0,
            offset: 3,
            value: frameForGlue('AVRO', avro, '00000000-0000-4000-8000-000000000000'),
          },
          {
            topic: 'orders',
            partition: 0,
            offset: 4,
            value: frameForGlue('AVRO', Buffer.from([0x02, 0xff]), AVRO_ID),
          },
        ]),
      );
      const unknownBefore = entries[3]!.record.value;

      // Act
      const ready = await prepareEntries(entries, { eventRecordFormat: form, lookUp }, noWait);

      // Assess
      expect(ready).toBe(true);
      const [a, p, plain, unknown, corrupt] = entries.map((e) => e!);
      expect(a!.record.valueSchemaMetadata).toEqual({ dataFormat: 'AVRO', schemaId: AVRO_ID });
      expect(p!.record.valueSchemaMetadata).toEqual({ dataFormat: 'PROTOBUF', schemaId: PROTO_ID });
      expect(plain!.record.valueSchemaMetadata).toBeUndefined();
      expect(Buffer.from(plain!.record.value!, 'base64').toString()).toBe('{"plain":"json"}');
      const avroValue = Buffer.from(a!.record.value!, 'base64');
      if (form === 'SOURCE') expect(avroValue.equals(avro)).toBe(true);
      else expect(JSON.parse(avroValue.toString())).toEqual(order);
      expect(a!.bytes).toBe(JSON.stringify(a!.record).length);
      // the Glue header is gone in both forms
      expect(unframeGlue(Buffer.from(p!.record.value!, 'base64'))).toBeUndefined();
      expect([unknown!.registryFailure, corrupt!.registryFailure]).toEqual([
        'SCHEMA_NOT_FOUND',
        'DESERIALIZATION_ERROR',
      ]);
      // a failed record is sent on as it was read
      expect(unknown!.record.value).toBe(unknownBefore);
      expect(entries.slice(0, 3).every((e) => e.registryFailure === undefined)).toBe(true);
    },
  );

  it('asks an unreachable registry again, and gives up only when the mapping stops', async () => {
    // Prepare
    const codecs = await loadOrderCodecs();
    const avro = encodeInFormat('AVRO', 'order', orderSchema.parse(orderFixture(2)), codecs);
    const value = frameForGlue('AVRO', avro, AVRO_ID);
    let calls = 0;
    const flaky = async (id: string) => {
      calls += 1;
      if (calls < 3) throw new Error('connect ECONNREFUSED');
      return lookUp(id);
    };
    const warnings: string[] = [];
    const deps = { ...noWait, warn: (m: string) => warnings.push(m) };

    // Act
    const entries = entriesOf(mskEvent([{ topic: 'orders', partition: 0, offset: 0, value }]));
    const ready = await prepareEntries(
      entries,
      { eventRecordFormat: 'SOURCE', lookUp: flaky },
      deps,
    );
    const stopped = await prepareEntries(
      entriesOf(mskEvent([{ topic: 'orders', partition: 0, offset: 1, value }])),
      {
        eventRecordFormat: 'SOURCE',
        lookUp: async () => {
          throw new Error('down');
        },
      },
      { ...deps, stopping: () => true },
    );

    // Assess
    expect(ready).toBe(true);
    expect(calls).toBe(3);
    expect(entries[0]!.record.valueSchemaMetadata?.schemaId).toBe(AVRO_ID);
    expect(warnings[0]).toMatch(/look-up failed \(attempt 1\): connect ECONNREFUSED/);
    expect(stopped).toBe(false);
  });

  it('sends failures on once, by reason, and leaves them out of the batch', async () => {
    // Prepare
    const entries = entriesOf(
      mskEvent(
        [0, 1, 2, 3].map((offset) => ({ topic: 'orders', partition: 0, offset, value: 'x' })),
      ),
    );
    entries[1]!.registryFailure = 'SCHEMA_NOT_FOUND';
    entries[3]!.registryFailure = 'DESERIALIZATION_ERROR';
    const state = { key: 'orders-0', partition: 0, assigned: true } as PartitionState;
    const batch: Batch = {
      slices: [{ state, entries: [...entries] }],
      invokeCount: 0,
      notBefore: 0,
    };
    const written: Array<[SchemaRegistryFailureReason, number[], number]> = [];
    const write = async (items: DeadLetter[], reason: SchemaRegistryFailureReason) => {
      written.push([
        reason,
        items.map((d) => d.entry.record.offset),
        items[0]!.approximateInvokeCount,
      ]);
      return true;
    };

    // Act
    const first = await sendRegistryFailures(batch, write);
    const again = await sendRegistryFailures(
      { slices: [{ state, entries: [...entries] }], invokeCount: 1, notBefore: 0 },
      write,
    );
    const stopping = { slices: [{ state, entries: [entries[0]!] }], invokeCount: 0, notBefore: 0 };
    entries[0]!.registryFailure = 'SCHEMA_NOT_FOUND';
    const refused = await sendRegistryFailures(stopping, async () => false);

    // Assess
    expect(first && again).toBe(true);
    expect(written).toEqual([
      ['SCHEMA_NOT_FOUND', [1], 0],
      ['DESERIALIZATION_ERROR', [3], 0],
    ]);
    expect(batch.slices[0]!.entries.map((e) => e.record.offset)).toEqual([0, 2]);
    expect(entries[1]!.registrySent && entries[3]!.registrySent).toBe(true);
    expect(refused).toBe(false);
    expect(entries[0]!.registrySent).toBeUndefined();
  });
});

describe('readMappings: SchemaRegistryConfig from the stage parameters', () => {
  const yml = new URL('../../../serverless.yml', import.meta.url).pathname;
  const processOrders = (params: Record<string, string>) =>
    readMappings(yml, { stage: 'local', params }).find((m) => m.functionName === 'processOrders')!;

  it('reads a Glue registry and its record format; none by default', () => {
    // Act
    const none = processOrders({});
    const glue = processOrders({
      schemaRegistryUri: 'arn:aws:glue:us-east-1:123456789012:registry/orders',
      schemaRegistryEventRecordFormat: 'JSON',
    });

    // Assess
    expect(none.schemaRegistry).toBeUndefined();
    expect(glue.schemaRegistry).toEqual({
      uri: 'arn:aws:glue:us-east-1:123456789012:registry/orders',
      eventRecordFormat: 'JSON',
    });
    expect(glue.warnings).toEqual([]);
  });

  it('warns that a Confluent-compatible registry is not emulated, without repeating its URL', () => {
    // Act
    const m = processOrders({ schemaRegistryUri: 'https://user:secret@registry.example.com' });

    // Assess
    expect(m.schemaRegistry).toBeUndefined();
    expect(m.warnings.join('\n')).toMatch(/Confluent-compatible schema registry is not emulated/);
    expect(m.warnings.join('\n')).not.toContain('secret');
  });
});
