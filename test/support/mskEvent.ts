import type { KafkaEventRecord, MSKEvent } from '../../src/lib/events/types.ts';
import type { KcatRecord } from './kcat.ts';

export interface RecordSpec {
  topic: string;
  partition: number;
  offset: number;
  key?: string | null;
  /** Bytes to encode, `null` for a null value, or `{ raw }` for a literal (possibly invalid) base64 string. */
  value: Buffer | string | null | { raw: string };
  headers?: Record<string, string>;
  /** `[name, value]` pairs, for names that repeat (order kept); used instead of `headers`. */
  headerList?: Array<[string, string]>;
  timestamp?: number;
}

/** Builds an event exactly in the MSK shape Lambda delivers. */
export const mskEvent = (specs: RecordSpec[]): MSKEvent => {
  const records: Record<string, KafkaEventRecord[]> = {};
  for (const s of specs) {
    const key = `${s.topic}-${s.partition}`;
    let value: string | null;
    if (s.value === null) value = null;
    else if (typeof s.value === 'object' && 'raw' in s.value) value = s.value.raw;
    else value = Buffer.from(s.value).toString('base64');
    const record: KafkaEventRecord = {
      topic: s.topic,
      partition: s.partition,
      offset: s.offset,
      timestamp: s.timestamp ?? 1_764_000_000_000 + s.offset,
      timestampType: 'CREATE_TIME',
      value,
      headers: (s.headerList ?? Object.entries(s.headers ?? {})).map(([k, v]) => ({
        [k]: [...Buffer.from(v)],
      })),
    };
    if (s.key !== undefined && s.key !== null) record.key = Buffer.from(s.key).toString('base64');
    const list = records[key] ?? [];
    records[key] = list;
    list.push(record);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    records,
  };
};

/**
 * Records read back with kcat, as the MSK event Lambda would deliver for them: same
 * topic, partition, offset, key and value, every header in order (repeated names too).
 *
 * @example
 * await handler(mskEventFromKcat(await kcatRead(config.topics.dlq)));
 */
export const mskEventFromKcat = (records: KcatRecord[]): MSKEvent =>
  mskEvent(
    records.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key,
      value: r.value,
      headerList: r.headers,
    })),
  );
