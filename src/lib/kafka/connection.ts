/**
 * The one place that knows how to reach the cluster: brokers (a list, or MSK's
 * `GetBootstrapBrokers`) and authentication (none, SASL/SCRAM-SHA-512 from
 * Secrets Manager, MSK IAM over OAUTHBEARER). The AWS SDK, Powertools
 * parameters and the IAM signer are imported only by the mode that needs them,
 * so a local `none` configuration loads none of them (cold start).
 */
import { readFile } from 'node:fs/promises';
import type {
  GetBootstrapBrokersCommandInput,
  GetBootstrapBrokersCommandOutput,
} from '@aws-sdk/client-kafka';
import { ConfigurationError, RetriableError, safeMessage } from '../errors.ts';
import type { ConnectionSettings, KafkaAuthMode } from './config.ts';

export type { BootstrapSource, ConnectionSettings, KafkaAuthMode } from './config.ts';
export { KAFKA_AUTH_MODES, readConnectionSettings } from './config.ts';

/** The `GetBootstrapBrokers` answer: one comma-separated broker string per listener. */
export type BootstrapBrokerStrings = Omit<GetBootstrapBrokersCommandOutput, '$metadata'>;

/**
 * The part of the MSK control plane used here. The SDK's aggregated `Kafka`
 * client (`@aws-sdk/client-kafka`) has this shape; tests pass a stub.
 */
export interface MskControlPlane {
  getBootstrapBrokers(input: GetBootstrapBrokersCommandInput): Promise<BootstrapBrokerStrings>;
}

/** `generateAuthToken` of `aws-msk-iam-sasl-signer-js`. */
export type AuthTokenGenerator = (options: {
  region: string;
}) => Promise<{ token: string; expiryTime: number }>;

/** Reads a secret's raw value (string or binary); `undefined` when it has none. */
export type SecretFetcher = (secretId: string) => Promise<string | Uint8Array | undefined>;

/** Replaceable collaborators; each defaults to the real AWS implementation, loaded lazily. */
export interface ConnectionDeps {
  msk?: MskControlPlane;
  generateAuthToken?: AuthTokenGenerator;
  fetchSecret?: SecretFetcher;
}

export interface ScramSasl {
  mechanism: 'scram-sha-512';
  username: string;
  password: string;
}

export interface OauthBearerSasl {
  mechanism: 'oauthbearer';
  oauthBearerProvider: () => Promise<{ value: string }>;
}

export type KafkaSasl = ScramSasl | OauthBearerSasl;

/** A kafkajs client configuration (assignable to `KafkaClientConfig` of `client.ts`). */
export interface KafkaConnectionConfig {
  clientId: string;
  brokers: string[];
  /** `true`: Node's public roots; `{ca}`: only these CAs (`KAFKA_TLS_CA_FILE`). Verification is never off. */
  ssl: boolean | { ca: string[] };
  sasl?: KafkaSasl;
  connectionTimeout: number;
  requestTimeout: number;
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

// A Lambda invocation has a deadline: a few quick retries, then the batch is retried.
const RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 } as const;
// SCRAM credentials change only on rotation; a new container or an explicit
// clearConnectionCaches() picks the new ones up.
const SECRET_MAX_AGE_SECONDS = 300;
// Renew an IAM token this long before it expires (it lives 15 minutes at most).
const TOKEN_RENEW_MARGIN_MS = 60_000;

type Listener = 'iam' | 'scram' | 'tls' | 'plaintext';

// Which GetBootstrapBrokers string serves each listener. MSK has no public
// plaintext listener. https://docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn-bootstrap-brokers.html
const BOOTSTRAP_FIELD = {
  iam: {
    private: 'BootstrapBrokerStringSaslIam',
    public: 'BootstrapBrokerStringPublicSaslIam',
    what: 'IAM access control',
  },
  scram: {
    private: 'BootstrapBrokerStringSaslScram',
    public: 'BootstrapBrokerStringPublicSaslScram',
    what: 'SASL/SCRAM authentication',
  },
  tls: {
    private: 'BootstrapBrokerStringTls',
    public: 'BootstrapBrokerStringPublicTls',
    what: 'TLS encryption',
  },
  plaintext: { private: 'BootstrapBrokerString', public: undefined, what: 'plaintext traffic' },
} as const satisfies Record<
  Listener,
  {
    private: keyof BootstrapBrokerStrings;
    public: keyof BootstrapBrokerStrings | undefined;
    what: string;
  }
>;

const LISTENER_OF_AUTH: Record<KafkaAuthMode, (tls: boolean) => Listener> = {
  iam: () => 'iam',
  scram: () => 'scram',
  none: (tls) => (tls ? 'tls' : 'plaintext'),
};

// Control-plane answers that no retry can change.
const CONFIGURATION_FAILURES: ReadonlySet<string> = new Set([
  'NotFoundException',
  'BadRequestException',
  'UnauthorizedException',
  'ForbiddenException',
  'AccessDeniedException',
  'ResourceNotFoundException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'CredentialsProviderError',
]);

const brokerCache = new Map<string, Promise<string[]>>();
const secretProviders = new Map<string, Promise<SecretFetcher>>();

/** Forgets cached brokers and secrets (tests; or after a credential rotation). */
export const clearConnectionCaches = (): void => {
  brokerCache.clear();
  secretProviders.clear();
};

// Powertools wraps SDK errors in GetParameterError; the SDK's name is on the cause.
const errorName = (error: unknown): string => {
  const e = error as { name?: unknown; cause?: { name?: unknown } } | undefined;
  const cause = typeof e?.cause?.name === 'string' ? e.cause.name : undefined;
  return cause ?? (typeof e?.name === 'string' ? e.name : 'Error');
};

const awsClientConfig = (region: string | undefined, endpoint: string | undefined) => ({
  ...(region ? { region } : {}),
  ...(endpoint ? { endpoint } : {}),
});

const defaultMskControlPlane = async (settings: ConnectionSettings): Promise<MskControlPlane> => {
  const { KafkaClient, GetBootstrapBrokersCommand } = await import('@aws-sdk/client-kafka');
  const client = new KafkaClient(awsClientConfig(settings.clusterRegion, settings.awsEndpointUrl));
  return { getBootstrapBrokers: (input) => client.send(new GetBootstrapBrokersCommand(input)) };
};

const fetchBootstrapBrokers = async (
  settings: ConnectionSettings,
  clusterArn: string,
  field: keyof BootstrapBrokerStrings,
  what: string,
  deps: ConnectionDeps,
): Promise<string[]> => {
  let answer: BootstrapBrokerStrings;
  try {
    const msk = deps.msk ?? (await defaultMskControlPlane(settings));
    answer = await msk.getBootstrapBrokers({ ClusterArn: clusterArn });
  } catch (error) {
    const message = `GetBootstrapBrokers for ${clusterArn} failed: ${errorName(error)}: ${safeMessage(error)}`;
    throw CONFIGURATION_FAILURES.has(errorName(error))
      ? new ConfigurationError(message, { cause: error })
      : new RetriableError('TRANSIENT', message, { cause: error });
  }
  const brokers = (answer[field] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0)
    throw new ConfigurationError(
      `MSK cluster ${clusterArn} returned no ${field}: enable ${what} on the cluster, or set KAFKA_AUTH/KAFKA_TLS/MSK_PUBLIC_ACCESS to a listener it has`,
    );
  return brokers;
};

/**
 * The bootstrap brokers: `KAFKA_BROKERS` as given, or the string of the MSK
 * listener matching the auth mode (IAM, SCRAM, TLS, plaintext; public variants
 * with `MSK_PUBLIC_ACCESS`). A discovered list is cached for the container's
 * life, per cluster ARN and listener; a failed lookup is not cached.
 *
 * @example
 * const settings = readConnectionSettings({
 *   MSK_CLUSTER_ARN: 'arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd-1234',
 * });
 * await resolveBrokers(settings);
 * // ['b-1.orders.abcd12.c2.kafka.us-east-1.amazonaws.com:9098', ...]
 */
export const resolveBrokers = async (
  settings: ConnectionSettings,
  deps: ConnectionDeps = {},
): Promise<string[]> => {
  const { bootstrap } = settings;
  if (bootstrap.from === 'list') return [...bootstrap.brokers];

  const listener = BOOTSTRAP_FIELD[LISTENER_OF_AUTH[settings.auth](settings.tls)];
  const field = bootstrap.publicAccess ? listener.public : listener.private;
  if (!field)
    throw new ConfigurationError(
      `MSK has no public listener for ${listener.what}: set KAFKA_AUTH to iam or scram`,
    );
  const key = `${bootstrap.clusterArn}\u0000${field}`;
  let brokers = brokerCache.get(key);
  if (!brokers) {
    const lookup = fetchBootstrapBrokers(
      settings,
      bootstrap.clusterArn,
      field,
      listener.what,
      deps,
    );
    brokerCache.set(key, lookup);
    lookup.catch(() => {
      if (brokerCache.get(key) === lookup) brokerCache.delete(key);
    });
    brokers = lookup;
  }
  return [...(await brokers)];
};

const defaultSecretFetcher = (region: string | undefined, endpoint: string | undefined) => {
  const key = `${region ?? ''}\u0000${endpoint ?? ''}`;
  let fetcher = secretProviders.get(key);
  if (!fetcher) {
    fetcher = import('@aws-lambda-powertools/parameters/secrets').then(({ SecretsProvider }) => {
      const provider = new SecretsProvider({ clientConfig: awsClientConfig(region, endpoint) });
      // No `transform: 'json'`: its parse error quotes the secret's text.
      return async (secretId: string) =>
        (await provider.get(secretId, { maxAge: SECRET_MAX_AGE_SECONDS })) as
          | string
          | Uint8Array
          | undefined;
    });
    secretProviders.set(key, fetcher);
    fetcher.catch(() => {
      secretProviders.delete(key);
    });
  }
  return fetcher;
};

const secretRegion = (secretId: string, fallback: string | undefined) =>
  /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1] ?? fallback;

// Keeps the password out of JSON logs and console output of the config object.
const redacted = <T extends object>(sasl: T, shown: Record<string, unknown>): T =>
  Object.defineProperties(sasl, {
    toJSON: { value: () => shown },
    [Symbol.for('nodejs.util.inspect.custom')]: { value: () => shown },
  });

const scramSasl = async (
  settings: ConnectionSettings,
  deps: ConnectionDeps,
): Promise<ScramSasl> => {
  const secretId = settings.scramSecretId;
  if (!secretId) throw new ConfigurationError('KAFKA_AUTH=scram needs KAFKA_SCRAM_SECRET_ARN');
  let raw: string | Uint8Array | undefined;
  try {
    const fetch =
      deps.fetchSecret ??
      (await defaultSecretFetcher(
        secretRegion(secretId, settings.region),
        settings.awsEndpointUrl,
      ));
    raw = await fetch(secretId);
  } catch (error) {
    const name = errorName(error);
    if (name === 'ResourceNotFoundException')
      throw new ConfigurationError(`SCRAM secret ${secretId} not found in Secrets Manager`, {
        cause: error,
        code: 'SECRET_NOT_FOUND',
      });
    const message = `SCRAM secret ${secretId} could not be read: ${name}: ${safeMessage(error)}`;
    throw CONFIGURATION_FAILURES.has(name)
      ? new ConfigurationError(message, { cause: error })
      : new RetriableError('TRANSIENT', message, { cause: error });
  }
  if (raw === undefined)
    throw new ConfigurationError(`SCRAM secret ${secretId} has no value in Secrets Manager`, {
      code: 'SECRET_NOT_FOUND',
    });

  let credentials: unknown;
  try {
    credentials = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
  } catch {
    // No cause: the parse error quotes the text, and the text is the secret.
    throw new ConfigurationError(
      `SCRAM secret ${secretId} is not JSON: MSK expects {"username": ..., "password": ...}`,
      { code: 'SECRET_MALFORMED' },
    );
  }
  const { username, password } = (credentials ?? {}) as { username?: unknown; password?: unknown };
  const missing = [
    ...(typeof username === 'string' && username ? [] : ['username']),
    ...(typeof password === 'string' && password ? [] : ['password']),
  ];
  if (missing.length > 0 || typeof username !== 'string' || typeof password !== 'string')
    throw new ConfigurationError(
      `SCRAM secret ${secretId} has no ${missing.join(' or ')} string: MSK expects {"username": ..., "password": ...}`,
      { code: 'SECRET_MALFORMED' },
    );
  return redacted(
    { mechanism: 'scram-sha-512', username, password },
    { mechanism: 'scram-sha-512', username, password: '***' },
  );
};

let signer: Promise<AuthTokenGenerator> | undefined;
const defaultAuthTokenGenerator = (): Promise<AuthTokenGenerator> => {
  if (!signer) {
    signer = import('aws-msk-iam-sasl-signer-js').then((m) => m.generateAuthToken);
    signer.catch(() => {
      signer = undefined;
    });
  }
  return signer;
};

const iamSasl = (settings: ConnectionSettings, deps: ConnectionDeps): OauthBearerSasl => {
  const region = settings.clusterRegion;
  if (!settings.tls)
    throw new ConfigurationError(
      'KAFKA_AUTH=iam needs TLS (MSK port 9098): remove KAFKA_TLS=false',
    );
  if (!region)
    throw new ConfigurationError('KAFKA_AUTH=iam needs the cluster region: set AWS_REGION');
  // kafkajs asks for a token on every new broker connection; one signed token
  // serves them all until shortly before it expires.
  let cached: { value: string; renewAt: number } | undefined;
  return redacted(
    {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => {
        if (cached && Date.now() < cached.renewAt) return { value: cached.value };
        try {
          const generate = deps.generateAuthToken ?? (await defaultAuthTokenGenerator());
          const { token, expiryTime } = await generate({ region });
          cached = { value: token, renewAt: expiryTime - TOKEN_RENEW_MARGIN_MS };
          return { value: token };
        } catch (error) {
          throw new RetriableError(
            'BROKER_UNAVAILABLE',
            `MSK IAM token for ${region} could not be signed: ${errorName(error)}: ${safeMessage(error)}`,
            { cause: error },
          );
        }
      },
    },
    { mechanism: 'oauthbearer' },
  );
};

/**
 * The TLS options: Node's public roots, or only the CAs of `KAFKA_TLS_CA_FILE` (a
 * private CA, as a self-managed cluster's or the local stack's). Hostname and chain
 * are verified either way.
 */
const tlsOptions = async (settings: ConnectionSettings): Promise<KafkaConnectionConfig['ssl']> => {
  if (!settings.tls) return false;
  const file = settings.tlsCaFile;
  if (!file) return true;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      `KAFKA_TLS_CA_FILE ${file} cannot be read: ${(error as { code?: string }).code ?? errorName(error)}`,
      { cause: error },
    );
  }
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certificates)
    throw new ConfigurationError(`KAFKA_TLS_CA_FILE ${file} holds no PEM certificate`);
  return { ca: certificates };
};

const SASL: Record<
  KafkaAuthMode,
  (settings: ConnectionSettings, deps: ConnectionDeps) => Promise<KafkaSasl | undefined>
> = {
  none: async () => undefined,
  scram: scramSasl,
  iam: async (settings, deps) => iamSasl(settings, deps),
};

/**
 * The kafkajs client configuration for these settings: brokers resolved, SCRAM
 * credentials read from Secrets Manager (cached), or an IAM token provider.
 * Fails with a {@link ConfigurationError} when no retry can help (missing
 * secret, bad secret JSON, listener not enabled) and a retriable error
 * otherwise; no message contains a secret value.
 *
 * @example
 * const config = await buildKafkaConfig(readConnectionSettings({ KAFKA_BROKERS: 'localhost:9092' }));
 * // { clientId: 'msk-order-pipeline', brokers: ['localhost:9092'], ssl: false,
 * //   connectionTimeout: 3000, requestTimeout: 10000, retry: {...} }
 * const client = new KafkaClient(config);
 *
 * @example
 * const config = await buildKafkaConfig(
 *   readConnectionSettings({
 *     MSK_CLUSTER_ARN: 'arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd-1234',
 *     KAFKA_AUTH: 'scram',
 *     KAFKA_SCRAM_SECRET_ARN: 'AmazonMSK_orders',
 *     AWS_REGION: 'us-east-1',
 *   }),
 * );
 * // config.sasl: { mechanism: 'scram-sha-512', username: '...', password: '...' }
 */
export const buildKafkaConfig = async (
  settings: ConnectionSettings,
  deps: ConnectionDeps = {},
): Promise<KafkaConnectionConfig> => {
  const [brokers, sasl, ssl] = await Promise.all([
    resolveBrokers(settings, deps),
    SASL[settings.auth](settings, deps),
    tlsOptions(settings),
  ]);
  return {
    clientId: settings.clientId,
    brokers,
    ssl,
    ...(sasl ? { sasl } : {}),
    connectionTimeout: settings.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    retry: { ...RETRY },
  };
};
