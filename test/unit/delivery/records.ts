/** Decoded records for delivery tests: topic `orders`, a key, a traceparent header. */
import type { DecodedRecord } from '../../../src/lib/events/types.ts';

export const decodedRecord = (
  partition: number,
  offset: number,
  value: string | null = `v${offset}`,
): DecodedRecord => ({
  topic: 'orders',
  partition,
  offset,
  timestamp: 1_700_000_000_000,
  timestampType: 'CREATE_TIME',
  key: Buffer.from(`k${offset}`),
  value: value === null ? null : Buffer.from(value),
  headers: new Map([['traceparent', [Buffer.from('00-abc')]]]),
  rawValue: value === null ? null : Buffer.from(value).toString('base64'),
});
