/**
 * Connection settings of the Kafka client, read from the environment once at
 * init. Pure: no I/O, no AWS SDK. `connection.ts` turns the settings into a
 * kafkajs configuration (broker discovery, credentials, tokens).
 */
import { ConfigurationError } from '../errors.ts';

/** How the client authenticates: nothing (local broker), SASL/SCRAM-SHA-512, or MSK IAM. */
export const KAFKA_AUTH_MODES = ['none', 'scram', 'iam'] as const;

export type KafkaAuthMode = (typeof KAFKA_AUTH_MODES)[number];

/** Where the brokers come from: a fixed list, or the MSK control plane. */
export type BootstrapSource =
  | { from: 'list'; brokers: string[] }
  | {
      from: 'msk';
      clusterArn: string;
      /** Use the cluster's public listeners (`BootstrapBrokerStringPublic*`). */
      publicAccess: boolean;
    };

/** Everything the client needs to reach and authenticate to the cluster; no secret values. */
export interface ConnectionSettings {
  clientId: string;
  bootstrap: BootstrapSource;
  auth: KafkaAuthMode;
  tls: boolean;
  /**
   * A PEM file of the CA(s) to trust instead of Node's public roots (`KAFKA_TLS_CA_FILE`):
   * for a broker whose certificate a private CA signed. Read when the client is built.
   */
  tlsCaFile?: string;
  /** The function's region (`AWS_REGION`): default region of AWS calls, such as Secrets Manager. */
  region: string | undefined;
  /**
   * The cluster's region: from `MSK_CLUSTER_ARN`, else an MSK broker host name,
   * else `region`. Used by `GetBootstrapBrokers` and to sign IAM tokens.
   */
  clusterRegion: string | undefined;
  /**
   * ARN or name of the secret holding `{username, password}` (scram only); named
   * `AmazonMSK_…` when the brokers are MSK's.
   */
  scramSecretId?: string;
  /** `AWS_ENDPOINT_URL`: an emulator (moto, LocalStack) instead of AWS. */
  awsEndpointUrl?: string;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

const DEFAULT_CLIENT_ID = 'msk-order-pipeline';
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
// A TLS handshake (and MSK's IAM/SCRAM exchange after it) needs more than a plaintext connect.
const DEFAULT_CONNECTION_TIMEOUT_MS = { plaintext: 3_000, tls: 5_000 } as const;

// MSK's IAM listener: 9098 inside the VPC, 9198 for public access.
// https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html
const IAM_PORTS: ReadonlySet<number> = new Set([9098, 9198]);
// MSK only accepts SCRAM secrets whose name starts with this prefix; self-managed
// Kafka (a Lambda mapping's SASL_SCRAM_512_AUTH) takes any secret.
// https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
const SCRAM_SECRET_PREFIX = 'AmazonMSK_';

const BROKER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;
const MSK_CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:([a-z0-9-]+):\d{12}:cluster\/[^/\s]+\/[^/\s]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:(\S+)$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const MSK_HOST_REGION = /\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com$/;
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

// Values are echoed in messages only when they cannot carry a credential
// (a broker list with `user:password@` in it must not end up in a log line).
const shown = (value: string) =>
  /^[\w.:[\]/-]{1,200}$/.test(value) ? `"${value}"` : '(value not shown)';

const isLoopback = (broker: string) => {
  const host = broker.slice(0, broker.lastIndexOf(':')).toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '[::1]'
  );
};

const portOf = (broker: string) => Number(broker.slice(broker.lastIndexOf(':') + 1));

const parseBrokers = (raw: string, issues: string[]): string[] => {
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) issues.push('KAFKA_BROKERS is set but lists no broker');
  for (const broker of brokers) {
    const port = BROKER.exec(broker)?.[2];
    if (port === undefined || Number(port) < 1 || Number(port) > 65_535)
      issues.push(`KAFKA_BROKERS entry ${shown(broker)} is not host:port`);
  }
  return brokers;
};

const parseBoolean = (env: NodeJS.ProcessEnv, name: string, issues: string[]) => {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  issues.push(`${name}=${shown(raw)} must be true or false`);
  return undefined;
};

const parseMillis = (env: NodeJS.ProcessEnv, name: string, fallback: number, issues: string[]) => {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (Number.isSafeInteger(n) && n > 0) return n;
  issues.push(`${name}=${shown(raw)} must be a positive integer (milliseconds)`);
  return fallback;
};

const parseAuth = (raw: string | undefined, issues: string[]): KafkaAuthMode | undefined => {
  const value = raw?.trim().toLowerCase();
  if (!value) return undefined;
  if ((KAFKA_AUTH_MODES as readonly string[]).includes(value)) return value as KafkaAuthMode;
  issues.push(`KAFKA_AUTH=${shown(value)} must be one of ${KAFKA_AUTH_MODES.join(', ')}`);
  return undefined;
};

/**
 * Checks the secret's ARN or name (the `AmazonMSK_` prefix only for MSK's brokers)
 * and returns, for an ARN, its region.
 */
const parseSecretId = (secretId: string, msk: boolean, issues: string[]) => {
  const arn = SECRET_ARN.exec(secretId);
  if (secretId.startsWith('arn:') && !arn) {
    issues.push(`KAFKA_SCRAM_SECRET_ARN=${shown(secretId)} is not a Secrets Manager secret ARN`);
    return undefined;
  }
  const name = arn ? arn[2]! : secretId;
  if (!arn && !SECRET_NAME.test(name))
    issues.push(`KAFKA_SCRAM_SECRET_ARN=${shown(secretId)} is not a secret ARN or name`);
  else if (msk && !name.startsWith(SCRAM_SECRET_PREFIX))
    issues.push(
      `KAFKA_SCRAM_SECRET_ARN=${shown(secretId)}: MSK only accepts SCRAM secrets whose name starts with "${SCRAM_SECRET_PREFIX}"`,
    );
  return arn?.[1];
};

/**
 * Reads and checks the Kafka connection settings. Every problem found is
 * reported together in one {@link ConfigurationError}; no secret value is ever
 * part of the message (only names and ARNs are).
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `KAFKA_BROKERS` | `host:port,host:port` (wins over the ARN) | – |
 * | `MSK_CLUSTER_ARN` | discover brokers with `GetBootstrapBrokers` | – |
 * | `MSK_PUBLIC_ACCESS` | use the cluster's public listeners | `false` |
 * | `KAFKA_AUTH` | `none`, `scram` or `iam` | `scram` if a secret is set, `none` on loopback brokers, else `iam` |
 * | `KAFKA_SCRAM_SECRET_ARN` | ARN or name of the secret (`AmazonMSK_…` on MSK) | required for `scram` |
 * | `KAFKA_TLS` | encrypt the connection | `false` for `none` on loopback, else `true` |
 * | `KAFKA_TLS_CA_FILE` | PEM file of the CA that signed the brokers' certificates (verification stays on) | Node's public roots |
 * | `AWS_REGION` | region of AWS calls | `AWS_DEFAULT_REGION` |
 * | `AWS_ENDPOINT_URL` | AWS emulator endpoint | – |
 * | `KAFKA_CLIENT_ID` | kafkajs client id | `AWS_LAMBDA_FUNCTION_NAME`, else `msk-order-pipeline` |
 * | `KAFKA_CONNECTION_TIMEOUT_MS` | connect timeout | 3000, 5000 with TLS |
 * | `KAFKA_REQUEST_TIMEOUT_MS` | request timeout | 10000 |
 *
 * @example
 * readConnectionSettings({ KAFKA_BROKERS: 'localhost:9092' });
 * // { auth: 'none', tls: false, bootstrap: { from: 'list', brokers: ['localhost:9092'] }, ... }
 *
 * readConnectionSettings({
 *   MSK_CLUSTER_ARN: 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd-1234',
 * });
 * // { auth: 'iam', tls: true, clusterRegion: 'eu-west-1', bootstrap: { from: 'msk', ... }, ... }
 */
export const readConnectionSettings = (
  env: NodeJS.ProcessEnv = process.env,
): ConnectionSettings => {
  const issues: string[] = [];

  const rawBrokers = env.KAFKA_BROKERS?.trim();
  const clusterArn = env.MSK_CLUSTER_ARN?.trim() || undefined;
  const publicAccess = parseBoolean(env, 'MSK_PUBLIC_ACCESS', issues) ?? false;
  let bootstrap: BootstrapSource | undefined;
  let clusterArnRegion: string | undefined;
  if (rawBrokers) {
    bootstrap = { from: 'list', brokers: parseBrokers(rawBrokers, issues) };
  } else if (clusterArn) {
    clusterArnRegion = MSK_CLUSTER_ARN.exec(clusterArn)?.[1];
    if (!clusterArnRegion)
      issues.push(
        `MSK_CLUSTER_ARN=${shown(clusterArn)} is not an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<id>)`,
      );
    bootstrap = { from: 'msk', clusterArn, publicAccess };
  } else {
    issues.push('set KAFKA_BROKERS (host:port,...) or MSK_CLUSTER_ARN to say where Kafka is');
  }
  const brokers = bootstrap?.from === 'list' ? bootstrap.brokers : [];
  const loopback = brokers.length > 0 && brokers.every(isLoopback);
  // MSK's brokers: discovered from the ARN, or listed under MSK's host names.
  const msk =
    bootstrap?.from === 'msk' ||
    (brokers.length > 0 && brokers.every((b) => MSK_HOST_REGION.test(b.split(':')[0]!)));

  const scramSecretId = env.KAFKA_SCRAM_SECRET_ARN?.trim() || undefined;
  const auth =
    parseAuth(env.KAFKA_AUTH, issues) ?? (scramSecretId ? 'scram' : loopback ? 'none' : 'iam');
  const tls = parseBoolean(env, 'KAFKA_TLS', issues) ?? !(auth === 'none' && loopback);
  const tlsCaFile = env.KAFKA_TLS_CA_FILE?.trim() || undefined;
  if (tlsCaFile && !tls)
    issues.push('KAFKA_TLS_CA_FILE is set but TLS is off: remove KAFKA_TLS=false, or the CA file');

  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
  if (region && !REGION.test(region))
    issues.push(`AWS_REGION=${shown(region)} is not an AWS region (for example us-east-1)`);
  const hostRegion = brokers.map((b) => MSK_HOST_REGION.exec(b.split(':')[0]!)?.[1]).find(Boolean);
  const clusterRegion = clusterArnRegion ?? hostRegion ?? region;

  const awsEndpointUrl = env.AWS_ENDPOINT_URL?.trim() || undefined;
  if (awsEndpointUrl && !URL.canParse(awsEndpointUrl))
    issues.push(`AWS_ENDPOINT_URL=${shown(awsEndpointUrl)} is not a URL`);

  if (auth === 'scram') {
    if (!scramSecretId)
      issues.push(
        'KAFKA_AUTH=scram needs KAFKA_SCRAM_SECRET_ARN (the secret with username and password)',
      );
    else {
      const secretRegion = parseSecretId(scramSecretId, msk, issues);
      if (!secretRegion && !region)
        issues.push('KAFKA_SCRAM_SECRET_ARN is a name, not an ARN: set AWS_REGION to find it');
    }
    // MSK's SCRAM listener is TLS-only; a self-managed broker may offer SASL_PLAINTEXT.
    if (!tls && bootstrap?.from === 'msk')
      issues.push('KAFKA_AUTH=scram on MSK needs TLS: remove KAFKA_TLS=false');
  }

  if (auth === 'iam') {
    if (!tls) issues.push('KAFKA_AUTH=iam needs TLS (MSK port 9098): remove KAFKA_TLS=false');
    const wrongPort = brokers.filter((b) => BROKER.test(b) && !IAM_PORTS.has(portOf(b)));
    if (wrongPort.length > 0)
      issues.push(
        `KAFKA_AUTH=iam needs MSK's IAM listener (port 9098, or 9198 for public access); KAFKA_BROKERS has ${wrongPort.map(shown).join(', ')}`,
      );
    if (!clusterRegion)
      issues.push('KAFKA_AUTH=iam needs the cluster region to sign tokens: set AWS_REGION');
  }

  if (bootstrap?.from === 'msk') {
    if (!clusterArnRegion && !region)
      issues.push('MSK_CLUSTER_ARN needs AWS_REGION to call GetBootstrapBrokers');
    if (publicAccess && auth === 'none')
      issues.push(
        'MSK_PUBLIC_ACCESS=true needs KAFKA_AUTH=iam or scram: MSK has no unauthenticated public listener',
      );
  }

  const connectionTimeoutMs = parseMillis(
    env,
    'KAFKA_CONNECTION_TIMEOUT_MS',
    DEFAULT_CONNECTION_TIMEOUT_MS[tls ? 'tls' : 'plaintext'],
    issues,
  );
  const requestTimeoutMs = parseMillis(
    env,
    'KAFKA_REQUEST_TIMEOUT_MS',
    DEFAULT_REQUEST_TIMEOUT_MS,
    issues,
  );

  if (issues.length > 0)
    throw new ConfigurationError(`Kafka connection settings are invalid: ${issues.join('; ')}`);

  return {
    clientId:
      env.KAFKA_CLIENT_ID?.trim() || env.AWS_LAMBDA_FUNCTION_NAME?.trim() || DEFAULT_CLIENT_ID,
    bootstrap: bootstrap!,
    auth,
    tls,
    ...(tlsCaFile ? { tlsCaFile } : {}),
    region,
    clusterRegion,
    ...(auth === 'scram' ? { scramSecretId: scramSecretId! } : {}),
    ...(awsEndpointUrl ? { awsEndpointUrl } : {}),
    connectionTimeoutMs,
    requestTimeoutMs,
  };
};
