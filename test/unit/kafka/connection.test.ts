import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, PipelineError } from '../../../src/lib/errors.ts';
import type { KafkaClientConfig } from '../../../src/lib/kafka/client.ts';
import {
  type BootstrapBrokerStrings,
  buildKafkaConfig,
  type ConnectionSettings,
  clearConnectionCaches,
  type MskControlPlane,
  readConnectionSettings,
  resolveBrokers,
} from '../../../src/lib/kafka/connection.ts';

const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/0a1b2c3d-4e5f-6789';
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_orders-scram-AbCdEf';
const IAM_BROKER = 'b-1.orders.x1y2z3.c2.kafka.eu-west-1.amazonaws.com:9098';
const PASSWORD = 'pa55-w0rd-never-printed';

// Every listener answers with its own string, so the chosen one is visible.
const ALL_LISTENERS: BootstrapBrokerStrings = {
  BootstrapBrokerString: 'b-1.plain:9092,b-2.plain:9092',
  BootstrapBrokerStringTls: 'b-1.tls:9094,b-2.tls:9094',
  BootstrapBrokerStringSaslScram: 'b-1.scram:9096,b-2.scram:9096',
  BootstrapBrokerStringSaslIam: 'b-1.iam:9098,b-2.iam:9098',
  BootstrapBrokerStringPublicTls: 'b-1.public-tls:9194',
  BootstrapBrokerStringPublicSaslScram: 'b-1.public-scram:9196',
  BootstrapBrokerStringPublicSaslIam: 'b-1.public-iam:9198',
};

const stubMsk = (answer: () => Promise<BootstrapBrokerStrings>) => {
  const getBootstrapBrokers = vi.fn(answer);
  return { msk: { getBootstrapBrokers } satisfies MskControlPlane, getBootstrapBrokers };
};

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

const mskSettings = (env: NodeJS.ProcessEnv = {}) =>
  readConnectionSettings({ MSK_CLUSTER_ARN: CLUSTER_ARN, ...env });

const configurationErrorOf = (act: () => unknown): ConfigurationError => {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
};

beforeEach(() => {
  clearConnectionCaches();
});

describe('readConnectionSettings', () => {
  it('reads a local broker as plaintext without auth', () => {
    // Act
    const settings = readConnectionSettings({ KAFKA_BROKERS: ' localhost:9092 , 127.0.0.1:9093 ' });

    // Assess
    expect(settings).toEqual({
      clientId: 'msk-order-pipeline',
      bootstrap: { from: 'list', brokers: ['localhost:9092', '127.0.0.1:9093'] },
      auth: 'none',
      tls: false,
      region: undefined,
      clusterRegion: undefined,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
    });
  });

  it('defaults a remote broker list to IAM over TLS and takes the region from the MSK host', () => {
    // Act
    const settings = readConnectionSettings({ KAFKA_BROKERS: IAM_BROKER, AWS_REGION: 'us-east-1' });

    // Assess
    expect(settings).toMatchObject({
      auth: 'iam',
      tls: true,
      region: 'us-east-1',
      clusterRegion: 'eu-west-1',
      connectionTimeoutMs: 5_000,
    });
  });

  it('discovers brokers from the cluster ARN, with IAM, TLS and the region of the ARN', () => {
    // Act
    const settings = mskSettings({ AWS_LAMBDA_FUNCTION_NAME: 'orders-dev-processOrders' });

    // Assess
    expect(settings).toMatchObject({
      clientId: 'orders-dev-processOrders',
      bootstrap: { from: 'msk', clusterArn: CLUSTER_ARN, publicAccess: false },
      auth: 'iam',
      tls: true,
      clusterRegion: 'eu-west-1',
    });
  });

  it('prefers KAFKA_BROKERS to the cluster ARN (a local broker stands in for MSK)', () => {
    // Act
    const settings = mskSettings({ KAFKA_BROKERS: 'localhost:9092' });

    // Assess
    expect(settings.bootstrap).toEqual({ from: 'list', brokers: ['localhost:9092'] });
    expect(settings.auth).toBe('none');
  });

  it('reads SCRAM, defaulting to it when a secret is named, and honours explicit values', () => {
    // Act
    const implied = mskSettings({ KAFKA_SCRAM_SECRET_ARN: SECRET_ARN });
    const explicit = readConnectionSettings({
      KAFKA_BROKERS: 'kafka.internal:9096',
      KAFKA_AUTH: 'SCRAM',
      KAFKA_TLS: 'false',
      KAFKA_SCRAM_SECRET_ARN: 'AmazonMSK_orders',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      KAFKA_CLIENT_ID: 'orders-client',
      KAFKA_CONNECTION_TIMEOUT_MS: '1500',
      KAFKA_REQUEST_TIMEOUT_MS: '4000',
    });

    // Assess
    expect(implied).toMatchObject({ auth: 'scram', tls: true, scramSecretId: SECRET_ARN });
    expect(explicit).toMatchObject({
      clientId: 'orders-client',
      auth: 'scram',
      tls: false,
      scramSecretId: 'AmazonMSK_orders',
      awsEndpointUrl: 'http://127.0.0.1:5000',
      connectionTimeoutMs: 1_500,
      requestTimeoutMs: 4_000,
    });
  });

  it.each([
    ['a secret name', 'orders-kafka'],
    ['a secret ARN', SECRET_ARN.replace('AmazonMSK_', '')],
  ])('takes %s of any name for self-managed brokers (only MSK wants AmazonMSK_)', (_, secret) => {
    // Act
    const settings = readConnectionSettings({
      KAFKA_BROKERS: 'kafka-1.orders.internal:9096,kafka-2.orders.internal:9096',
      KAFKA_SCRAM_SECRET_ARN: secret,
      AWS_REGION: 'eu-west-1',
    });

    // Assess
    expect(settings).toMatchObject({ auth: 'scram', tls: true, scramSecretId: secret });
  });

  it.each([
    ['no broker and no cluster', {}, 'set KAFKA_BROKERS (host:port,...) or MSK_CLUSTER_ARN'],
    ['an empty broker list', { KAFKA_BROKERS: ' , ' }, 'KAFKA_BROKERS is set but lists no broker'],
    ['a broker without port', { KAFKA_BROKERS: 'localhost' }, '"localhost" is not host:port'],
    ['a port out of range', { KAFKA_BROKERS: 'localhost:70000' }, '"localhost:70000" is not'],
    [
      'an unknown auth mode',
      { KAFKA_BROKERS: 'localhost:9092', KAFKA_AUTH: 'plain' },
      'KAFKA_AUTH="plain" must be one of none, scram, iam',
    ],
    [
      'a TLS flag that is not boolean',
      { KAFKA_BROKERS: 'localhost:9092', KAFKA_TLS: 'maybe' },
      'KAFKA_TLS="maybe" must be true or false',
    ],
    [
      'a malformed cluster ARN',
      { MSK_CLUSTER_ARN: 'arn:aws:kafka:eu-west-1:1:orders' },
      'is not an MSK cluster ARN',
    ],
    [
      'a region that is not one',
      { KAFKA_BROKERS: 'localhost:9092', AWS_REGION: 'Europe' },
      'AWS_REGION="Europe" is not an AWS region',
    ],
    [
      'an endpoint that is not a URL',
      { KAFKA_BROKERS: 'localhost:9092', AWS_ENDPOINT_URL: 'moto' },
      'AWS_ENDPOINT_URL="moto" is not a URL',
    ],
    [
      'a timeout that is not a number',
      { KAFKA_BROKERS: 'localhost:9092', KAFKA_REQUEST_TIMEOUT_MS: '10s' },
      'KAFKA_REQUEST_TIMEOUT_MS="10s" must be a positive integer',
    ],
    [
      'SCRAM without a secret',
      { KAFKA_BROKERS: 'localhost:9092', KAFKA_AUTH: 'scram' },
      'KAFKA_AUTH=scram needs KAFKA_SCRAM_SECRET_ARN',
    ],
    [
      'a secret name without the MSK prefix, on MSK',
      {
        MSK_CLUSTER_ARN: CLUSTER_ARN,
        KAFKA_SCRAM_SECRET_ARN: 'orders-scram',
        AWS_REGION: 'us-east-1',
      },
      'MSK only accepts SCRAM secrets whose name starts with "AmazonMSK_"',
    ],
    [
      "a secret ARN without the MSK prefix, for MSK's brokers",
      {
        KAFKA_BROKERS: 'b-1.orders.abc123.c2.kafka.eu-west-1.amazonaws.com:9096',
        KAFKA_SCRAM_SECRET_ARN: SECRET_ARN.replace('AmazonMSK_', ''),
      },
      'starts with "AmazonMSK_"',
    ],
    [
      'an ARN of another service as secret',
      {
        KAFKA_BROKERS: 'localhost:9092',
        KAFKA_SCRAM_SECRET_ARN: 'arn:aws:ssm:us-east-1:123456789012:parameter/AmazonMSK_x',
      },
      'is not a Secrets Manager secret ARN',
    ],
    [
      'a secret name without a region',
      { KAFKA_BROKERS: 'localhost:9092', KAFKA_SCRAM_SECRET_ARN: 'AmazonMSK_orders' },
      'set AWS_REGION to find it',
    ],
    [
      'SCRAM on MSK without TLS',
      { MSK_CLUSTER_ARN: CLUSTER_ARN, KAFKA_SCRAM_SECRET_ARN: SECRET_ARN, KAFKA_TLS: 'false' },
      'KAFKA_AUTH=scram on MSK needs TLS',
    ],
    [
      'IAM without TLS',
      { MSK_CLUSTER_ARN: CLUSTER_ARN, KAFKA_TLS: 'false' },
      'KAFKA_AUTH=iam needs TLS (MSK port 9098)',
    ],
    [
      'IAM on a port other than 9098',
      { KAFKA_BROKERS: 'b-1.orders.kafka.eu-west-1.amazonaws.com:9092' },
      'KAFKA_BROKERS has "b-1.orders.kafka.eu-west-1.amazonaws.com:9092"',
    ],
    [
      'IAM without a region',
      { KAFKA_BROKERS: 'kafka.internal:9098' },
      'KAFKA_AUTH=iam needs the cluster region',
    ],
    [
      'public access without auth',
      { MSK_CLUSTER_ARN: CLUSTER_ARN, KAFKA_AUTH: 'none', MSK_PUBLIC_ACCESS: 'true' },
      'MSK has no unauthenticated public listener',
    ],
  ] as Array<[string, NodeJS.ProcessEnv, string]>)(
    'rejects %s with one clear message',
    (_case, env, expected) => {
      // Act
      const error = configurationErrorOf(() => readConnectionSettings(env));

      // Assess
      expect(error.code).toBe('CONFIGURATION');
      expect(error.message).toMatch(/^Kafka connection settings are invalid: /);
      expect(error.message).toContain(expected);
    },
  );

  it('reports every problem at once, in one error', () => {
    // Act
    const error = configurationErrorOf(() =>
      readConnectionSettings({
        KAFKA_BROKERS: 'localhost:9092',
        KAFKA_AUTH: 'tls',
        KAFKA_TLS: 'y',
      }),
    );

    // Assess
    expect(error.message).toContain('KAFKA_AUTH="tls"');
    expect(error.message).toContain('KAFKA_TLS="y"');
  });

  it('never echoes a value that may carry a credential', () => {
    // Act
    const error = configurationErrorOf(() =>
      readConnectionSettings({ KAFKA_BROKERS: `admin:${PASSWORD}@kafka.internal:9092` }),
    );

    // Assess
    expect(error.message).toContain('KAFKA_BROKERS entry (value not shown) is not host:port');
    expect(error.message).not.toContain(PASSWORD);
  });
});

describe('resolveBrokers', () => {
  it('returns KAFKA_BROKERS as given, without asking MSK', async () => {
    // Prepare
    const { msk, getBootstrapBrokers } = stubMsk(async () => ALL_LISTENERS);

    // Act
    const brokers = await resolveBrokers(
      readConnectionSettings({ KAFKA_BROKERS: 'localhost:9092' }),
      { msk },
    );

    // Assess
    expect(brokers).toEqual(['localhost:9092']);
    expect(getBootstrapBrokers).not.toHaveBeenCalled();
  });

  it.each([
    ['iam', {}, ['b-1.iam:9098', 'b-2.iam:9098']],
    ['scram', { KAFKA_SCRAM_SECRET_ARN: SECRET_ARN }, ['b-1.scram:9096', 'b-2.scram:9096']],
    ['tls without auth', { KAFKA_AUTH: 'none' }, ['b-1.tls:9094', 'b-2.tls:9094']],
    ['plaintext', { KAFKA_AUTH: 'none', KAFKA_TLS: 'false' }, ['b-1.plain:9092', 'b-2.plain:9092']],
    ['public iam', { MSK_PUBLIC_ACCESS: 'true' }, ['b-1.public-iam:9198']],
    [
      'public scram',
      { MSK_PUBLIC_ACCESS: 'true', KAFKA_SCRAM_SECRET_ARN: SECRET_ARN },
      ['b-1.public-scram:9196'],
    ],
  ] as Array<[string, NodeJS.ProcessEnv, string[]]>)(
    'picks the %s listener',
    async (_mode, env, expected) => {
      // Prepare
      const { msk, getBootstrapBrokers } = stubMsk(async () => ALL_LISTENERS);

      // Act
      const brokers = await resolveBrokers(mskSettings(env), { msk });

      // Assess
      expect(brokers).toEqual(expected);
      expect(getBootstrapBrokers).toHaveBeenCalledWith({ ClusterArn: CLUSTER_ARN });
    },
  );

  it('asks MSK once per cluster and listener for the container', async () => {
    // Prepare
    const { msk, getBootstrapBrokers } = stubMsk(async () => ALL_LISTENERS);

    // Act
    const [first, concurrent] = await Promise.all([
      resolveBrokers(mskSettings(), { msk }),
      resolveBrokers(mskSettings(), { msk }),
    ]);
    const later = await resolveBrokers(mskSettings(), { msk });
    const otherListener = await resolveBrokers(mskSettings({ KAFKA_AUTH: 'none' }), { msk });

    // Assess
    expect(first).toEqual(['b-1.iam:9098', 'b-2.iam:9098']);
    expect(concurrent).toEqual(first);
    expect(later).toEqual(first);
    expect(otherListener).toEqual(['b-1.tls:9094', 'b-2.tls:9094']);
    expect(getBootstrapBrokers).toHaveBeenCalledTimes(2);
  });

  it('does not cache a failed lookup', async () => {
    // Prepare
    const { msk, getBootstrapBrokers } = stubMsk(async () => ALL_LISTENERS);
    getBootstrapBrokers.mockRejectedValueOnce(awsError('ServiceUnavailableException', 'try later'));

    // Act
    const failed = resolveBrokers(mskSettings(), { msk });
    await expect(failed).rejects.toMatchObject({ code: 'TRANSIENT', retriable: true });
    const retried = await resolveBrokers(mskSettings(), { msk });

    // Assess
    expect(retried).toEqual(['b-1.iam:9098', 'b-2.iam:9098']);
    expect(getBootstrapBrokers).toHaveBeenCalledTimes(2);
  });

  it('fails with a ConfigurationError when the cluster lacks the listener', async () => {
    // Prepare
    const { msk } = stubMsk(async () => ({ BootstrapBrokerStringTls: 'b-1.tls:9094' }));

    // Act
    const result = resolveBrokers(mskSettings(), { msk });

    // Assess
    await expect(result).rejects.toBeInstanceOf(ConfigurationError);
    await expect(result).rejects.toThrow(
      `MSK cluster ${CLUSTER_ARN} returned no BootstrapBrokerStringSaslIam: enable IAM access control`,
    );
  });

  it('fails with a ConfigurationError when the cluster does not exist', async () => {
    // Prepare
    const { msk } = stubMsk(async () => {
      throw awsError('NotFoundException', 'The requested resource was not found.');
    });

    // Act
    const result = resolveBrokers(mskSettings(), { msk });

    // Assess
    await expect(result).rejects.toBeInstanceOf(ConfigurationError);
    await expect(result).rejects.toThrow(
      `GetBootstrapBrokers for ${CLUSTER_ARN} failed: NotFoundException`,
    );
  });
});

describe('buildKafkaConfig', () => {
  it('builds a plain local configuration', async () => {
    // Act
    const config = await buildKafkaConfig(
      readConnectionSettings({ KAFKA_BROKERS: 'localhost:9092' }),
    );

    // Assess
    expect(config).toEqual({
      clientId: 'msk-order-pipeline',
      brokers: ['localhost:9092'],
      ssl: false,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    const clientConfig: KafkaClientConfig = config;
    expect(clientConfig.sasl).toBeUndefined();
  });

  it('loads neither the AWS SDK nor the signer for a local configuration', () => {
    // Prepare: a fresh process records every module it resolves
    const connection = fileURLToPath(
      new URL('../../../src/lib/kafka/connection.ts', import.meta.url),
    );
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { loaded.push(specifier); return next(specifier, context); } });
      const { buildKafkaConfig, readConnectionSettings } = await import(${JSON.stringify(connection)});
      await buildKafkaConfig(readConnectionSettings({ KAFKA_BROKERS: 'localhost:9092' }));
      console.log(JSON.stringify(loaded));`;

    // Act
    const loaded: string[] = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    );

    // Assess
    expect(loaded.some((s) => s.endsWith('connection.ts'))).toBe(true);
    expect(
      loaded.filter((s) => /@aws-sdk|@aws-lambda-powertools|aws-msk-iam|kafkajs/.test(s)),
    ).toEqual([]);
  });

  it('gives IAM an OAUTHBEARER token provider signed for the cluster region', async () => {
    // Prepare
    const { msk } = stubMsk(async () => ALL_LISTENERS);
    const generateAuthToken = vi.fn(async () => ({
      token: 'signed-token',
      expiryTime: Date.now() + 900_000,
    }));

    // Act
    const config = await buildKafkaConfig(mskSettings({ AWS_REGION: 'us-east-1' }), {
      msk,
      generateAuthToken,
    });
    const sasl = config.sasl;
    const first = sasl?.mechanism === 'oauthbearer' ? await sasl.oauthBearerProvider() : undefined;
    const second = sasl?.mechanism === 'oauthbearer' ? await sasl.oauthBearerProvider() : undefined;

    // Assess
    expect(config).toMatchObject({ brokers: ['b-1.iam:9098', 'b-2.iam:9098'], ssl: true });
    expect(sasl?.mechanism).toBe('oauthbearer');
    expect(first).toEqual({ value: 'signed-token' });
    expect(second).toEqual({ value: 'signed-token' });
    expect(generateAuthToken).toHaveBeenCalledTimes(1);
    expect(generateAuthToken).toHaveBeenCalledWith({ region: 'eu-west-1' });
  });

  it('signs a new IAM token when the last one is about to expire', async () => {
    // Prepare
    const generateAuthToken = vi
      .fn(async () => ({ token: 'second', expiryTime: Date.now() + 900_000 }))
      .mockResolvedValueOnce({ token: 'first', expiryTime: Date.now() + 30_000 });
    const config = await buildKafkaConfig(readConnectionSettings({ KAFKA_BROKERS: IAM_BROKER }), {
      generateAuthToken,
    });
    const provider =
      config.sasl?.mechanism === 'oauthbearer' ? config.sasl.oauthBearerProvider : undefined;

    // Act
    const tokens = [await provider?.(), await provider?.(), await provider?.()];

    // Assess
    expect(tokens).toEqual([{ value: 'first' }, { value: 'second' }, { value: 'second' }]);
    expect(generateAuthToken).toHaveBeenCalledTimes(2);
  });

  it('turns a signer failure into a retriable error', async () => {
    // Prepare
    const generateAuthToken = vi.fn(async () => {
      throw awsError('CredentialsProviderError', 'Could not load credentials from any providers');
    });
    const config = await buildKafkaConfig(readConnectionSettings({ KAFKA_BROKERS: IAM_BROKER }), {
      generateAuthToken,
    });

    // Act
    const result =
      config.sasl?.mechanism === 'oauthbearer' ? config.sasl.oauthBearerProvider() : undefined;

    // Assess
    await expect(result).rejects.toMatchObject({
      code: 'BROKER_UNAVAILABLE',
      retriable: true,
      message: expect.stringContaining(
        'MSK IAM token for eu-west-1 could not be signed: CredentialsProviderError',
      ),
    });
  });

  it('refuses IAM without TLS even from hand-made settings', async () => {
    // Prepare
    const settings: ConnectionSettings = {
      ...readConnectionSettings({ KAFKA_BROKERS: IAM_BROKER }),
      tls: false,
    };

    // Act
    const result = buildKafkaConfig(settings, { generateAuthToken: vi.fn() });

    // Assess
    await expect(result).rejects.toThrow('KAFKA_AUTH=iam needs TLS');
  });

  it('reads SCRAM-SHA-512 credentials from the secret and keeps the password out of logs', async () => {
    // Prepare
    const { msk } = stubMsk(async () => ALL_LISTENERS);
    const fetchSecret = vi.fn(async () =>
      JSON.stringify({ username: 'orders', password: PASSWORD }),
    );

    // Act
    const config = await buildKafkaConfig(mskSettings({ KAFKA_SCRAM_SECRET_ARN: SECRET_ARN }), {
      msk,
      fetchSecret,
    });

    // Assess
    expect(fetchSecret).toHaveBeenCalledWith(SECRET_ARN);
    expect(config).toMatchObject({ brokers: ['b-1.scram:9096', 'b-2.scram:9096'], ssl: true });
    expect(config.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'orders',
      password: PASSWORD,
    });
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    const { inspect } = await import('node:util');
    expect(inspect(config, { depth: 5 })).not.toContain(PASSWORD);
  });

  it('accepts a binary secret', async () => {
    // Prepare
    const fetchSecret = vi.fn(async () =>
      new TextEncoder().encode(JSON.stringify({ username: 'orders', password: PASSWORD })),
    );
    const settings = readConnectionSettings({
      KAFKA_BROKERS: 'localhost:9092',
      KAFKA_SCRAM_SECRET_ARN: SECRET_ARN,
    });

    // Act
    const config = await buildKafkaConfig(settings, { fetchSecret });

    // Assess
    expect(config.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'orders' });
    expect(config.ssl).toBe(true);
  });

  it.each([
    ['not JSON', async () => `username=orders password=${PASSWORD}`, 'is not JSON'],
    [
      'JSON without a password',
      async () => JSON.stringify({ username: PASSWORD }),
      'has no password string',
    ],
    [
      'JSON that is not an object',
      async () => JSON.stringify(PASSWORD),
      'has no username or password string',
    ],
    ['empty', async () => undefined, 'has no value in Secrets Manager'],
    [
      'missing',
      async () => {
        throw awsError(
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret.",
        );
      },
      'not found in Secrets Manager',
    ],
    [
      'not readable',
      async () => {
        throw awsError(
          'AccessDeniedException',
          'not authorized to perform secretsmanager:GetSecretValue',
        );
      },
      'could not be read: AccessDeniedException',
    ],
  ] as Array<[string, () => Promise<string | undefined>, string]>)(
    'fails with a ConfigurationError naming the secret, not its value, when it is %s',
    async (_case, fetchSecret, expected) => {
      // Prepare
      const settings = readConnectionSettings({
        KAFKA_BROKERS: 'localhost:9092',
        KAFKA_SCRAM_SECRET_ARN: SECRET_ARN,
      });

      // Act
      const error = await buildKafkaConfig(settings, { fetchSecret }).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      const { message, cause } = error as ConfigurationError;
      expect(message).toContain(`SCRAM secret ${SECRET_ARN} ${expected}`);
      expect(message).not.toContain(PASSWORD);
      expect(String((cause as Error | undefined)?.message ?? '')).not.toContain(PASSWORD);
    },
  );

  it('treats a throttled or unreachable Secrets Manager as retriable', async () => {
    // Prepare
    const settings = readConnectionSettings({
      KAFKA_BROKERS: 'localhost:9092',
      KAFKA_SCRAM_SECRET_ARN: SECRET_ARN,
    });
    const fetchSecret = vi.fn(async () => {
      throw awsError('ThrottlingException', 'Rate exceeded');
    });

    // Act
    const error = await buildKafkaConfig(settings, { fetchSecret }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: 'TRANSIENT', retriable: true });
  });
});
