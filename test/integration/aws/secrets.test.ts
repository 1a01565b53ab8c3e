import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import {
  buildKafkaConfig,
  clearConnectionCaches,
  readConnectionSettings,
} from '../../../src/lib/kafka/connection.ts';
import { awsEndpoint, uniqueName } from '../../support/stackEnv.ts';

// SCRAM credentials read back through the product's real path (Powertools
// SecretsProvider over the AWS SDK) from a real Secrets Manager API (moto).
const REGION = 'us-east-1';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const run = uniqueName('AmazonMSK_test');
const created: string[] = [];

let secrets: SecretsManagerClient;
let secretArn: string;

const createSecret = async (name: string, value: string) => {
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  created.push(ARN!);
  return ARN!;
};

const scramSettings = (secretId: string) =>
  readConnectionSettings({
    KAFKA_BROKERS: 'b-1.orders.x1y2z3.c2.kafka.us-east-1.amazonaws.com:9096',
    KAFKA_AUTH: 'scram',
    KAFKA_SCRAM_SECRET_ARN: secretId,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: awsEndpoint(),
  });

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  secrets = new SecretsManagerClient({
    region: REGION,
    endpoint: awsEndpoint(),
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  secretArn = await createSecret(run, JSON.stringify({ username: 'orders', password: PASSWORD }));
});

beforeEach(() => {
  clearConnectionCaches();
});

afterAll(async () => {
  for (const id of created)
    await secrets
      .send(new DeleteSecretCommand({ SecretId: id, ForceDeleteWithoutRecovery: true }))
      .catch(() => {});
  secrets?.destroy();
});

describe('SCRAM credentials from Secrets Manager', () => {
  it('reads username and password from the AmazonMSK_ secret by ARN', async () => {
    // Act
    const config = await buildKafkaConfig(scramSettings(secretArn));

    // Assess
    expect(config.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'orders',
      password: PASSWORD,
    });
    expect(config.ssl).toBe(true);
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
  });

  it('reads the same secret by name', async () => {
    // Act
    const config = await buildKafkaConfig(scramSettings(run));

    // Assess
    expect(config.sasl).toMatchObject({ username: 'orders', password: PASSWORD });
  });

  it('serves a warm container from its cache and sees a rotation once the cache is cleared', async () => {
    // Prepare
    const name = `${run}-rotated`;
    await createSecret(name, JSON.stringify({ username: 'before', password: PASSWORD }));
    await buildKafkaConfig(scramSettings(name));
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: JSON.stringify({ username: 'after', password: PASSWORD }),
      }),
    );

    // Act
    const warm = await buildKafkaConfig(scramSettings(name));
    clearConnectionCaches();
    const fresh = await buildKafkaConfig(scramSettings(name));

    // Assess
    expect(warm.sasl).toMatchObject({ username: 'before' });
    expect(fresh.sasl).toMatchObject({ username: 'after' });
  });

  it('fails with a ConfigurationError naming a missing secret and nothing else', async () => {
    // Prepare
    const missing = `${run}-missing`;

    // Act
    const error = await buildKafkaConfig(scramSettings(missing)).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    const { message } = error as ConfigurationError;
    expect(message).toBe(`SCRAM secret ${missing} not found in Secrets Manager`);
    expect(message).not.toContain(PASSWORD);
  });

  it('fails with a ConfigurationError that does not quote a secret that is not JSON', async () => {
    // Prepare
    const name = `${run}-not-json`;
    const arn = await createSecret(name, `orders:${PASSWORD}`);

    // Act
    const error = await buildKafkaConfig(scramSettings(arn)).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    const { message, cause } = error as ConfigurationError;
    expect(message).toContain(`SCRAM secret ${arn} is not JSON`);
    expect(message).not.toContain(PASSWORD);
    expect(cause).toBeUndefined();
  });
});
