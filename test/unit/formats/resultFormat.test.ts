import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import {
  bareOfSourcePayload,
  decodeInFormat,
  loadOrderCodecs,
  type OrderCodecs,
  unframeGlue,
} from '../../../src/lib/formats/index.ts';
import { readResultFormats, resultValue } from '../../../src/lib/formats/resultFormat.ts';
import { evaluateOrder, orderSchema } from '../../../src/lib/orders/index.ts';
import { orderFixture } from '../../support/fixtures.ts';

const AVRO_RESULT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const PROTO_RESULT = '1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

let codecs: OrderCodecs;
beforeAll(async () => {
  codecs = await loadOrderCodecs();
});

const result = () =>
  evaluateOrder(orderSchema.parse(orderFixture(4)), {
    now: new Date('2026-01-01T00:00:00Z'),
    source: { topic: 'orders', partition: 2, offset: 9 },
  });

describe('readResultFormats', () => {
  it('reads format=version pairs; unset or empty means JSON results', () => {
    // Act, Assess
    expect(readResultFormats({})).toBeUndefined();
    expect(readResultFormats({ RESULT_SCHEMA_VERSIONS: ' ' })).toBeUndefined();
    expect(
      readResultFormats({
        RESULT_SCHEMA_VERSIONS: `AVRO=${AVRO_RESULT}, PROTOBUF=${PROTO_RESULT}`,
      }),
    ).toEqual({ versions: { AVRO: AVRO_RESULT, PROTOBUF: PROTO_RESULT } });
  });

  it.each(['AVRO', `THRIFT=${AVRO_RESULT}`, 'AVRO=not-a-uuid', `AVRO=${AVRO_RESULT}=x`])(
    'refuses %s with a message naming the entry',
    (entry) => {
      // Act
      const act = () => readResultFormats({ RESULT_SCHEMA_VERSIONS: entry });

      // Assess
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(/RESULT_SCHEMA_VERSIONS/);
    },
  );
});

describe('resultValue', () => {
  const formats = { versions: { AVRO: AVRO_RESULT, PROTOBUF: PROTO_RESULT } };

  it('is JSON for a plain JSON order, a format without a version, or no configuration', () => {
    // Prepare
    const r = result();

    // Act, Assess
    expect(resultValue(r, undefined, formats)).toBe(JSON.stringify(r));
    expect(resultValue(r, { dataFormat: 'JSON', schemaId: '1' }, formats)).toBe(JSON.stringify(r));
    expect(resultValue(r, { dataFormat: 'AVRO', schemaId: '1' }, undefined)).toBe(
      JSON.stringify(r),
    );
  });

  it.each([
    ['AVRO', AVRO_RESULT],
    ['PROTOBUF', PROTO_RESULT],
  ] as const)(
    'writes the result of a %s order in that format, Glue-framed with the result version',
    (format, version) => {
      // Prepare
      const r = result();

      // Act
      const value = resultValue(r, { dataFormat: format, schemaId: 'x' }, formats) as Buffer;

      // Assess
      const framed = unframeGlue(value)!;
      expect(framed.schemaVersionId).toBe(version);
      const back = decodeInFormat(
        format,
        'result',
        bareOfSourcePayload(format, framed.payload, codecs),
        codecs,
      ) as Record<string, unknown>;
      expect(back.orderId).toBe(r.orderId);
      expect(back.totalMinor).toBe(r.totalMinor);
      expect(back.status).toBe(r.status);
    },
  );
});
