/**
 * Creates what the handlers need on the AWS side, outside CloudFormation, in an
 * AWS emulator: the idempotency table (as serverless.yml declares it) and the
 * MSK SCRAM secret. Idempotent: what exists is left as it is (a table without
 * TTL gets it turned on); every step prints what it did.
 *
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 node scripts/aws-bootstrap.ts
 *
 * The endpoint is any AWS-compatible one: moto's server in CI, LocalStack for
 * token holders (localstack/). Against real AWS, `serverless deploy` creates the
 * table and the secret belongs to the cluster's owner, so the command refuses to
 * run without `AWS_ENDPOINT_URL`.
 *
 * Settings (environment): IDEMPOTENCY_TABLE (default
 * `msk-order-pipeline-<STAGE or local>-idempotency`), KAFKA_SCRAM_SECRET_NAME
 * (default `AmazonMSK_msk-order-pipeline-<STAGE or local>`), KAFKA_SCRAM_USERNAME
 * (default `orders`), KAFKA_SCRAM_PASSWORD (required to create the secret; the
 * secret step is skipped without it), KAFKA_SCRAM_KMS_KEY_ID (optional).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceNotFoundException as TableNotFound,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ResourceNotFoundException as SecretNotFound,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/** Powertools idempotency's defaults, as in serverless.yml: partition key `id`, TTL `expiration`. */
export const IDEMPOTENCY_KEY = 'id';
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiration';
/** MSK reads SCRAM credentials only from secrets whose name starts with this. */
export const SCRAM_SECRET_PREFIX = 'AmazonMSK_';

export type StepResult = 'created' | 'exists' | 'updated' | 'skipped';

export interface Step {
  resource: 'table' | 'secret';
  name: string;
  result: StepResult;
  /** One line for a person: what was done and why. */
  detail: string;
  /** The resource's ARN when known. */
  arn?: string;
}

export interface Clients {
  dynamodb: DynamoDBClient;
  secrets: SecretsManagerClient;
}

export interface BootstrapSettings {
  tableName: string;
  secret?: { name: string; username: string; password: string; kmsKeyId?: string };
}

/**
 * Creates the idempotency table (`id` string partition key, on demand) if it is
 * missing, waits until it is active, and turns TTL on `expiration` on if it is off.
 *
 * @example
 * const step = await ensureIdempotencyTable(new DynamoDBClient({}), 'orders-idempotency');
 * console.log(step.result); // 'created' the first time, 'exists' after
 */
export const ensureIdempotencyTable = async (
  dynamodb: DynamoDBClient,
  tableName: string,
  options: { maxWaitSeconds?: number } = {},
): Promise<Step> => {
  let created = false;
  let arn: string | undefined;
  try {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    arn = Table?.TableArn;
    const key = Table?.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
    if (key !== IDEMPOTENCY_KEY)
      throw new Error(
        `table ${tableName} exists with partition key "${key}", Powertools idempotency needs "${IDEMPOTENCY_KEY}"`,
      );
  } catch (error) {
    if (!(error instanceof TableNotFound)) throw error;
    const out = await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: IDEMPOTENCY_KEY, KeyType: 'HASH' }],
      }),
    );
    arn = out.TableDescription?.TableArn;
    created = true;
  }
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: options.maxWaitSeconds ?? 60, minDelay: 1, maxDelay: 2 },
    { TableName: tableName },
  );

  const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const { TimeToLiveStatus, AttributeName } = ttl.TimeToLiveDescription ?? {};
  const ttlOn =
    (TimeToLiveStatus === 'ENABLED' || TimeToLiveStatus === 'ENABLING') &&
    AttributeName === IDEMPOTENCY_TTL_ATTRIBUTE;
  if (!ttlOn) {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  }
  const result: StepResult = created ? 'created' : ttlOn ? 'exists' : 'updated';
  const detail = {
    created: `created (key ${IDEMPOTENCY_KEY}, TTL on ${IDEMPOTENCY_TTL_ATTRIBUTE}, on demand)`,
    exists: 'already there, TTL on',
    updated: `already there; TTL turned on for ${IDEMPOTENCY_TTL_ATTRIBUTE}`,
    skipped: '',
  }[result];
  return { resource: 'table', name: tableName, result, detail, ...(arn ? { arn } : {}) };
};

/**
 * Creates the SCRAM secret `{username, password}` if no secret of that name
 * exists. An existing secret is not read nor changed (its value may be someone's).
 *
 * @example
 * await ensureScramSecret(new SecretsManagerClient({}), {
 *   name: 'AmazonMSK_orders-local', username: 'orders', password: process.env.KAFKA_SCRAM_PASSWORD!,
 * });
 */
export const ensureScramSecret = async (
  secrets: SecretsManagerClient,
  secret: NonNullable<BootstrapSettings['secret']>,
): Promise<Step> => {
  if (!secret.name.startsWith(SCRAM_SECRET_PREFIX))
    throw new Error(
      `SCRAM secret name must start with ${SCRAM_SECRET_PREFIX} (MSK ignores others)`,
    );
  if (!secret.username || !secret.password)
    throw new Error('SCRAM secret needs a username and a password');
  try {
    const found = await secrets.send(new DescribeSecretCommand({ SecretId: secret.name }));
    return {
      resource: 'secret',
      name: secret.name,
      result: 'exists',
      detail: 'already there, value left unchanged',
      ...(found.ARN ? { arn: found.ARN } : {}),
    };
  } catch (error) {
    if (!(error instanceof SecretNotFound)) throw error;
  }
  const created = await secrets.send(
    new CreateSecretCommand({
      Name: secret.name,
      Description: 'SASL/SCRAM-SHA-512 credentials of msk-order-pipeline',
      SecretString: JSON.stringify({ username: secret.username, password: secret.password }),
      ...(secret.kmsKeyId ? { KmsKeyId: secret.kmsKeyId } : {}),
    }),
  );
  return {
    resource: 'secret',
    name: secret.name,
    result: 'created',
    detail: `created for user ${secret.username}${secret.kmsKeyId ? `, encrypted with ${secret.kmsKeyId}` : ''}`,
    ...(created.ARN ? { arn: created.ARN } : {}),
  };
};

/** Table, then secret (when settings name one); the steps in order. */
export const bootstrap = async (clients: Clients, settings: BootstrapSettings): Promise<Step[]> => {
  const steps = [await ensureIdempotencyTable(clients.dynamodb, settings.tableName)];
  if (settings.secret) steps.push(await ensureScramSecret(clients.secrets, settings.secret));
  return steps;
};

/** Settings from the environment (see the file's header); no secret settings without a password. */
export const settingsFromEnv = (env: NodeJS.ProcessEnv = process.env): BootstrapSettings => {
  const stage = env.STAGE?.trim() || 'local';
  const service = env.SERVICE_NAME?.trim() || 'msk-order-pipeline';
  const password = env.KAFKA_SCRAM_PASSWORD;
  const kmsKeyId = env.KAFKA_SCRAM_KMS_KEY_ID?.trim();
  return {
    tableName: env.IDEMPOTENCY_TABLE?.trim() || `${service}-${stage}-idempotency`,
    ...(password
      ? {
          secret: {
            name:
              env.KAFKA_SCRAM_SECRET_NAME?.trim() || `${SCRAM_SECRET_PREFIX}${service}-${stage}`,
            username: env.KAFKA_SCRAM_USERNAME?.trim() || 'orders',
            password,
            ...(kmsKeyId ? { kmsKeyId } : {}),
          },
        }
      : {}),
  };
};

/** SDK clients for `endpoint` (an emulator); region and credentials from the usual chain, with test defaults. */
export const clientsFor = (endpoint: string, env: NodeJS.ProcessEnv = process.env): Clients => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? undefined
      : { accessKeyId: 'test', secretAccessKey: 'test' };
  const config = { endpoint, region, ...(credentials ? { credentials } : {}) };
  return { dynamodb: new DynamoDBClient(config), secrets: new SecretsManagerClient(config) };
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const endpoint = process.env.AWS_ENDPOINT_URL?.trim();
  if (!endpoint) {
    console.error(
      'aws-bootstrap: AWS_ENDPOINT_URL is not set. This creates resources in an emulator (moto, LocalStack); on AWS, `serverless deploy` creates the table.',
    );
    process.exit(2);
  }
  const settings = settingsFromEnv();
  const clients = clientsFor(endpoint);
  try {
    const steps = await bootstrap(clients, settings);
    if (!settings.secret)
      steps.push({
        resource: 'secret',
        name: '-',
        result: 'skipped',
        detail: 'KAFKA_SCRAM_PASSWORD not set: no SCRAM secret',
      });
    for (const s of steps) console.log(`[aws-bootstrap] ${s.resource} ${s.name}: ${s.detail}`);
  } catch (error) {
    console.error(
      `[aws-bootstrap] failed against ${endpoint}: ${error instanceof Error ? error.message : error}`,
    );
    process.exitCode = 1;
  } finally {
    clients.dynamodb.destroy();
    clients.secrets.destroy();
  }
}
