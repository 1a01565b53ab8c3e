import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DeliveryKafka,
  type PartitionWriter,
  processBatch,
} from '../../../src/lib/delivery/processBatch.ts';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import type { PartitionBatch } from '../../../src/lib/events/types.ts';
import { buildKafkaConfig, readConnectionSettings } from '../../../src/lib/kafka/connection.ts';
import { fromKafkaError } from '../../../src/lib/kafka/errors.ts';
import type { OutboundMessage } from '../../../src/lib/kafka/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'kafka-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Two self-signed certificates' worth of PEM framing: what is checked is what is passed on.
const CERT_A = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
const CERT_B = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----';
const SECRET = 'AmazonMSK_orders';
const PASSWORD = 'never-printed-pa55';
const scramEnv = {
  KAFKA_BROKERS: 'localhost:9096',
  KAFKA_SCRAM_SECRET_ARN: SECRET,
  AWS_REGION: 'us-east-1',
};
const credentials = async () => JSON.stringify({ username: 'orders', password: PASSWORD });

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('KAFKA_TLS_CA_FILE', () => {
  it('trusts only the CAs of the file, every certificate in it', async () => {
    // Prepare
    const ca = file('bundle.pem', `# a comment\n${CERT_A}\n${CERT_B}\n`);

    // Act
    const config = await buildKafkaConfig(
      readConnectionSettings({ ...scramEnv, KAFKA_TLS_CA_FILE: ca }),
      { fetchSecret: credentials },
    );

    // Assess
    expect(config.ssl).toEqual({ ca: [CERT_A, CERT_B] });
  });

  it('keeps Node’s public roots when unset', async () => {
    const config = await buildKafkaConfig(readConnectionSettings(scramEnv), {
      fetchSecret: credentials,
    });
    expect(config.ssl).toBe(true);
  });

  it.each([
    [
      'a missing file',
      () => join(dir, 'absent.pem'),
      /KAFKA_TLS_CA_FILE \S+absent\.pem cannot be read: .*ENOENT/,
    ],
    [
      'a file without a certificate',
      () => file('empty.pem', 'nothing here'),
      /holds no PEM certificate/,
    ],
  ])('fails with a ConfigurationError naming the file for %s', async (_case, path, says) => {
    const error = await buildKafkaConfig(
      readConnectionSettings({ ...scramEnv, KAFKA_TLS_CA_FILE: path() }),
      { fetchSecret: credentials },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(says);
  });

  it('is refused with TLS off: a CA that would never be used is a mistake', () => {
    expect(() =>
      readConnectionSettings({
        ...scramEnv,
        KAFKA_TLS: 'false',
        KAFKA_TLS_CA_FILE: '/etc/ca.pem',
      }),
    ).toThrow('KAFKA_TLS_CA_FILE is set but TLS is off');
  });
});

describe('SCRAM secret errors carry a code of their own', () => {
  const awsError = (name: string) => Object.assign(new Error(`${name} from AWS`), { name });
  it.each([
    [
      'missing',
      async () => Promise.reject(awsError('ResourceNotFoundException')),
      'SECRET_NOT_FOUND',
    ],
    ['empty', async () => undefined, 'SECRET_NOT_FOUND'],
    ['not JSON', async () => `password=${PASSWORD}`, 'SECRET_MALFORMED'],
    ['without a password', async () => JSON.stringify({ username: PASSWORD }), 'SECRET_MALFORMED'],
    ['forbidden', async () => Promise.reject(awsError('AccessDeniedException')), 'CONFIGURATION'],
  ] as Array<[string, () => Promise<string | undefined>, string]>)(
    '%s',
    async (_case, fetchSecret, code) => {
      const error = await buildKafkaConfig(readConnectionSettings(scramEnv), {
        fetchSecret,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ code, retriable: false });
      expect((error as Error).message).not.toContain(PASSWORD);
    },
  );
});

describe('a refused login or an untrusted broker never dead-letters', () => {
  const refused = Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), {
    name: 'KafkaJSSASLAuthenticationError',
  });
  const untrusted = Object.assign(
    new Error('Connection error: unable to verify the first certificate'),
    {
      name: 'KafkaJSConnectionError',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    },
  );

  const partition = (p: number): PartitionBatch => ({
    key: `orders-${p}`,
    topic: 'orders',
    partition: p,
    records: [7, 8].map((offset) => ({
      topic: 'orders',
      partition: p,
      offset,
      timestamp: 1_700_000_000_000,
      timestampType: 'CREATE_TIME',
      key: null,
      value: Buffer.from('{}'),
      headers: new Map(),
      rawValue: Buffer.from('{}').toString('base64'),
    })),
  });

  /** A writer whose connection fails where `failAt` says, with kafkajs's error. */
  const kafka = (failAt: 'init' | 'record', error: Error) => {
    const written: OutboundMessage[] = [];
    const writer: PartitionWriter = {
      usable: true,
      init: async () => {
        if (failAt === 'init') throw fromKafkaError(error);
      },
      write: async (messages) => {
        written.push(...messages);
      },
    };
    const client: DeliveryKafka = {
      transactionalProducer: () => ({ producer: writer, fresh: true }),
      committedCheckpoints: async () => new Map(),
    };
    return { client, written };
  };

  it.each([
    ['init', refused, 'AUTHENTICATION_FAILED'],
    ['init', untrusted, 'TLS_UNTRUSTED'],
    // e.g. republishDlq reading checkpoints while it decides about a record
    ['record', refused, 'AUTHENTICATION_FAILED'],
    ['record', untrusted, 'TLS_UNTRUSTED'],
  ] as const)(
    'failing at %s with %s: every partition stops at its first offset (%s)',
    async (failAt, error, code) => {
      // Prepare
      const { client, written } = kafka(failAt, error);

      // Act
      const { partitions, response } = await processBatch([partition(0), partition(1)], {
        kafka: client,
        transactionalIdPrefix: 'svc-test-fn',
        checkpointGroup: 'svc-test-fn.checkpoints',
        checkpointTopic: 'orders.checkpoints',
        deadLetterTopic: 'orders.dlq',
        processRecord: () => {
          throw fromKafkaError(error);
        },
      });

      // Assess
      expect(written).toEqual([]);
      expect(partitions.map((p) => [p.failedAt, p.error?.code, p.deadLettered])).toEqual([
        [7, code, 0],
        [7, code, 0],
      ]);
      expect(response.batchItemFailures).toEqual([
        { itemIdentifier: { partition: 'orders-0', offset: 7 } },
        { itemIdentifier: { partition: 'orders-1', offset: 7 } },
      ]);
    },
  );
});
