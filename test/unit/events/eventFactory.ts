/**
 * Events built by hand, in the exact shape Lambda delivers, so the decoder is tested
 * against the documented format and not against the module's own encoder.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import type {
  KafkaEventHeader,
  KafkaEventRecord,
  MSKEvent,
  SelfManagedKafkaEvent,
} from '../../../src/lib/events/types.ts';

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export const header = (name: string, text: string): KafkaEventHeader => ({
  [name]: Array.from(Buffer.from(text, 'utf8')),
});

export const eventRecord = (overrides: Partial<KafkaEventRecord> = {}): KafkaEventRecord => ({
  topic: 'orders',
  partition: 0,
  offset: 15,
  timestamp: 1_545_084_650_987,
  timestampType: 'CREATE_TIME',
  key: b64('order-1'),
  value: b64('{"orderId":"order-1"}'),
  headers: [header('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')],
  ...overrides,
});

export const mskEvent = (records: Record<string, unknown>): MSKEvent =>
  ({
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2',
    bootstrapServers: 'b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092',
    records,
  }) as MSKEvent;

export const selfManagedEvent = (records: Record<string, unknown>): SelfManagedKafkaEvent =>
  ({
    eventSource: 'SelfManagedKafka',
    bootstrapServers: 'b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092',
    records,
  }) as SelfManagedKafkaEvent;
