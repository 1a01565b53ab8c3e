/**
 * The local stack: a real Apache Kafka broker (KRaft, single combined node, run on
 * the JVM from Maven Central jars) and a real AWS emulator (moto's server, from PyPI,
 * in a virtual environment this script creates). No Docker.
 *
 *   node scripts/stack.ts up | down | status | restart-broker
 *
 * Idempotent: `up` reuses what already runs, `down` stops only what this stack
 * started. `KAFKA_BROKERS` set means: use that broker, start none;
 * `AWS_ENDPOINT_URL` set means: use that emulator, start none.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { DEAD_LETTER_TOPIC_CONFIG } from '../src/lib/delivery/deadLetter.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STATE_DIR = process.env.STACK_DIR ?? join(ROOT, '.stack');
const CACHE_DIR =
  process.env.STACK_CACHE_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'msk-order-pipeline');

export const KAFKA_VERSION = process.env.KAFKA_VERSION ?? '4.1.1';
const KAFKA_PORT = Number(process.env.KAFKA_PORT ?? 9092);
const CONTROLLER_PORT = Number(process.env.KAFKA_CONTROLLER_PORT ?? KAFKA_PORT + 1);
// the SASL_SSL listener (SCRAM-SHA-512 over TLS, as MSK's port 9096): the auth tests' broker
const SASL_PORT = Number(process.env.KAFKA_SASL_PORT ?? 9094);
const MOTO_PORT = Number(process.env.MOTO_PORT ?? 5000);
const MOTO_VERSION = '5.2.5';
const PARTITIONS = Number(process.env.KAFKA_PARTITIONS ?? 3);
const READY_TIMEOUT_MS = Number(process.env.STACK_READY_TIMEOUT_MS ?? 90_000);

export const TOPICS = {
  orders: process.env.TOPIC_ORDERS ?? 'orders',
  processed: process.env.TOPIC_PROCESSED ?? 'orders.processed',
  dlq: process.env.TOPIC_DLQ ?? 'orders.dlq',
  parkingLot: process.env.TOPIC_PARKING_LOT ?? 'orders.parking-lot',
  checkpoints: process.env.TOPIC_CHECKPOINTS ?? 'orders.checkpoints',
} as const;

const kafkaDir = join(STATE_DIR, 'kafka');
const brokerPidFile = join(STATE_DIR, 'kafka.pid');
const motoPidFile = join(STATE_DIR, 'moto.pid');
const envFile = join(STATE_DIR, 'env.json');
const brokerLog = join(STATE_DIR, 'kafka.log');
const motoLog = join(STATE_DIR, 'moto.log');
const tlsDir = join(STATE_DIR, 'tls');
const caFile = join(tlsDir, 'ca.pem');
const keystoreFile = join(tlsDir, 'broker.p12');
const keystorePasswordFile = join(tlsDir, 'keystore.password');
const scramCredentialsFile = join(STATE_DIR, 'scram-credentials.json');
// written once the broker's store holds the SCRAM user (removed with the store)
const scramUserMarker = join(kafkaDir, 'scram-user');
/** The SCRAM user of the SASL_SSL listener. */
export const SCRAM_USERNAME = 'orders-app';
/** The secret in the AWS emulator that holds the SCRAM user's credentials, as MSK names them. */
export const SCRAM_SECRET_NAME = 'AmazonMSK_local-orders';

/** What tests and tools need to reach the stack. */
export interface StackEnv {
  KAFKA_BROKERS: string;
  /** The SASL_SSL (SCRAM-SHA-512) listener; absent when the broker is not the stack's. */
  KAFKA_SASL_BROKERS?: string;
  /** The PEM file of the CA that signed the SASL_SSL listener's certificate. */
  KAFKA_TLS_CA_FILE?: string;
  /** The `AmazonMSK_…` secret (in the emulator) with the SCRAM user's credentials. */
  KAFKA_SCRAM_SECRET_ARN?: string;
  AWS_ENDPOINT_URL: string;
  /** Whether this stack runs the broker (false when KAFKA_BROKERS pointed elsewhere). */
  ownsBroker: boolean;
  ownsEmulator: boolean;
}

export class StackError extends Error {
  override name = 'StackError';
}

const say = (line: string) => process.stderr.write(`[stack] ${line}\n`);

// ---------------------------------------------------------------- processes

const readPid = (file: string): number | undefined => {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

const isAlive = (pid: number | undefined): pid is number => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spawnDetached = (cmd: string, args: string[], logFile: string, pidFile: string) => {
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(cmd, args, {
    cwd: STATE_DIR,
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  });
  closeSync(out);
  if (child.pid === undefined) throw new StackError(`could not start ${cmd}`);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  return child.pid;
};

/** Stops a process group started by this stack: TERM, a bounded wait, then KILL. */
const stopProcess = async (
  name: string,
  pidFile: string,
  graceMs = 20_000,
  first: NodeJS.Signals = 'SIGTERM',
) => {
  const pid = readPid(pidFile);
  if (!isAlive(pid)) {
    rmSync(pidFile, { force: true });
    say(`${name}: not running`);
    return false;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal(first);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    say(`${name}: still running after ${graceMs} ms, killing`);
    signal('SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
  rmSync(pidFile, { force: true });
  say(`${name}: stopped (pid ${pid})`);
  return true;
};

const tail = (file: string, lines = 15) =>
  existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';

// ---------------------------------------------------------------- kafka

const checkJava = () => {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error)
    throw new StackError(
      'Java not found on PATH: install a JDK 17 or newer (Kafka runs on the JVM)',
    );
  const m = /version "(\d+)/.exec(r.stderr ?? '');
  const major = m ? Number(m[1]) : 0;
  if (major < 17)
    throw new StackError(
      `Java ${major || '?'} found, Kafka ${KAFKA_VERSION} needs Java 17 or newer`,
    );
};

/** The jars a complete cache holds: the broker's, and Kafka's own tools (test/faults/kafkaTools.test.ts). */
const requiredJars = () => [`kafka_2.13-${KAFKA_VERSION}.jar`, `kafka-tools-${KAFKA_VERSION}.jar`];

/**
 * Resolves the broker's and Kafka's tools' jars from Maven Central once; later runs use
 * the cache. A cache made before the tools were added gets them: the jars are fetched
 * into a folder of their own and only the missing ones moved in, so a broker running from
 * the cache never sees its jars replaced or, when the fetch fails, removed.
 */
export const ensureKafkaJars = (): string => {
  const libs = join(CACHE_DIR, `kafka-${KAFKA_VERSION}`, 'libs');
  const complete = () => requiredJars().every((jar) => existsSync(join(libs, jar)));
  if (complete()) return libs;
  say(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs} (once)`);
  const fetched = `${libs}.fetch-${process.pid}`;
  rmSync(fetched, { recursive: true, force: true });
  try {
    const mvn = spawnSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        join(ROOT, 'scripts/kafka/pom.xml'),
        `-Dkafka.version=${KAFKA_VERSION}`,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${fetched}`,
        '-DincludeScope=runtime',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (mvn.error)
      throw new StackError(
        'Maven (mvn) not found on PATH: it is needed once to fetch the Kafka jars',
      );
    if (mvn.status !== 0 || !requiredJars().every((jar) => existsSync(join(fetched, jar))))
      throw new StackError(
        `could not fetch Kafka ${KAFKA_VERSION} jars from Maven Central: ${(mvn.stdout + mvn.stderr).trim().split('\n').slice(-3).join(' ')}`,
      );
    mkdirSync(libs, { recursive: true });
    for (const jar of readdirSync(fetched))
      if (!existsSync(join(libs, jar))) renameSync(join(fetched, jar), join(libs, jar));
  } finally {
    rmSync(fetched, { recursive: true, force: true });
  }
  return libs;
};

// ---------------------------------------------------------------- TLS and SCRAM

const openssl = (args: string[], what: string) => {
  const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: tlsDir });
  if (r.error)
    throw new StackError(
      "openssl not found on PATH: it makes the SASL_SSL listener's certificates",
    );
  if (r.status !== 0) throw new StackError(`openssl could not ${what}: ${r.stderr.trim()}`);
};

/**
 * A CA of the stack's own and the broker's certificate signed by it (for `localhost`
 * and 127.0.0.1), in a PKCS12 keystore. Made once (EC keys: quick) and kept in
 * `.stack/tls`; clients trust `ca.pem` by configuration (`KAFKA_TLS_CA_FILE`).
 */
export const ensureBrokerCertificate = () => {
  const made = [keystoreFile, caFile, keystorePasswordFile, join(tlsDir, 'broker.pem')];
  // made again a month before the broker's certificate expires (it lives 825 days)
  const valid = () =>
    spawnSync('openssl', ['x509', '-checkend', String(30 * 86_400), '-noout', '-in', made[3]!])
      .status === 0;
  if (made.every((f) => existsSync(f)) && valid())
    return { caFile, keystoreFile, keystorePassword: readFileSync(keystorePasswordFile, 'utf8') };
  rmSync(tlsDir, { recursive: true, force: true });
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '3650',
      '-subj',
      '/CN=msk-order-pipeline local stack CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    "make the stack's CA",
  );
  openssl(
    ['req', ...ec, '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=localhost'],
    "make the broker's key",
  );
  writeFileSync(
    join(tlsDir, 'broker.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'broker.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'broker.pem',
      '-days',
      '825',
      '-extfile',
      'broker.ext',
    ],
    "sign the broker's certificate",
  );
  const keystorePassword = randomBytes(18).toString('base64url');
  openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'broker.pem',
      '-inkey',
      'broker.key',
      '-certfile',
      'ca.pem',
      '-name',
      'broker',
      '-out',
      'broker.p12.tmp',
      '-passout',
      `pass:${keystorePassword}`,
    ],
    "write the broker's keystore",
  );
  writeFileSync(keystorePasswordFile, keystorePassword, { mode: 0o600 });
  renameSync(join(tlsDir, 'broker.p12.tmp'), keystoreFile);
  say(`tls: made a CA and the broker's certificate in ${tlsDir}`);
  return { caFile, keystoreFile, keystorePassword };
};

/** The SCRAM user's credentials: made once, kept in `.stack` (mode 600), outlive a `reset`. */
export const scramCredentials = (): { username: string; password: string } => {
  if (existsSync(scramCredentialsFile))
    return JSON.parse(readFileSync(scramCredentialsFile, 'utf8')) as {
      username: string;
      password: string;
    };
  const credentials = { username: SCRAM_USERNAME, password: randomBytes(18).toString('base64url') };
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(scramCredentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  return credentials;
};

const serverProperties = (keystorePassword: string) => `# written by scripts/stack.ts
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT},SASL_SSL://127.0.0.1:${SASL_PORT}
# localhost: the name in the certificate (a TLS server name may not be an IP address)
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},SASL_SSL://localhost:${SASL_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL with SCRAM-SHA-512 only, as MSK's SCRAM listener; users live in the KRaft metadata
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=${keystoreFile}
listener.name.sasl_ssl.ssl.keystore.password=${keystorePassword}
listener.name.sasl_ssl.ssl.key.password=${keystorePassword}
log.dirs=${join(kafkaDir, 'data')}
num.partitions=${PARTITIONS}
auto.create.topics.enable=false
# a single node: every internal topic has one replica, or transactions never start
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
# find hung transactions of killed test producers quickly
transaction.abort.timed.out.transaction.cleanup.interval.ms=5000
log.retention.hours=24
`;

const log4jProperties = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
`;

const formatStorage = (libs: string, props: string) => {
  if (existsSync(join(kafkaDir, 'data', 'meta.properties'))) return;
  const clusterId = randomBytes(16).toString('base64url');
  const { username, password } = scramCredentials();
  // the SCRAM user is written into the store at format time: no second JVM start
  const r = spawnSync(
    'java',
    [
      '-cp',
      `${libs}/*`,
      'kafka.tools.StorageTool',
      'format',
      // one argument: an id that starts with '-' is not taken for an option
      `--cluster-id=${clusterId}`,
      '-c',
      props,
      `--add-scram=SCRAM-SHA-512=[name=${username},password=${password}]`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0)
    throw new StackError(
      `formatting the KRaft store failed: ${(r.stdout + r.stderr).replaceAll(password, '***').trim()}`,
    );
  writeFileSync(scramUserMarker, username);
  say(`formatted KRaft store (cluster ${clusterId}) with SCRAM user ${username}`);
};

/**
 * A store formatted before the SASL_SSL listener existed has no SCRAM user: add it
 * once with Kafka's own admin tool (AlterUserScramCredentials; kafkajs has no such call).
 */
const ensureScramUser = (libs: string, brokers: string) => {
  if (existsSync(scramUserMarker)) return;
  const { username, password } = scramCredentials();
  const r = spawnSync(
    'java',
    [
      '-cp',
      `${libs}/*`,
      'kafka.admin.ConfigCommand',
      '--bootstrap-server',
      brokers,
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      username,
      '--add-config',
      `SCRAM-SHA-512=[password=${password}]`,
    ],
    { encoding: 'utf8', timeout: READY_TIMEOUT_MS },
  );
  if (r.status !== 0)
    throw new StackError(
      `adding the SCRAM user ${username} failed: ${(r.stdout + r.stderr).replaceAll(password, '***').trim()}`,
    );
  writeFileSync(scramUserMarker, username);
  say(`kafka: added SCRAM user ${username} to the existing store`);
};

const createKafka = (brokers: string) =>
  new kafkajs.Kafka({
    clientId: 'stack',
    brokers: brokers.split(','),
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });

/** True when a broker answers a metadata request. */
export const brokerAnswers = async (brokers: string): Promise<boolean> => {
  const admin = createKafka(brokers).admin();
  try {
    await admin.connect();
    const { brokers: list } = await admin.describeCluster();
    return list.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
};

const waitForBroker = async (brokers: string, pid: number | undefined) => {
  const started = Date.now();
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (pid !== undefined && !isAlive(pid)) {
      const cause = /(Address already in use|BindException|Exception[^\n]*)/.exec(
        tail(brokerLog, 60),
      );
      throw new StackError(
        `Kafka broker exited during start-up${cause ? `: ${cause[1]}` : ''} (log: ${brokerLog})`,
      );
    }
    if (await brokerAnswers(brokers)) return Date.now() - started;
    await sleep(250);
  }
  throw new StackError(
    `Kafka broker at ${brokers} did not answer within ${READY_TIMEOUT_MS} ms (log: ${brokerLog})`,
  );
};

export const stopBroker = () => stopProcess('kafka', brokerPidFile);

/** Whether the broker that runs was started with this stack's SASL_SSL listener. */
const runsSaslListener = () => {
  const props = join(kafkaDir, 'server.properties');
  return (
    existsSync(props) && readFileSync(props, 'utf8').includes(`SASL_SSL://127.0.0.1:${SASL_PORT}`)
  );
};

export const startBroker = async (): Promise<{
  brokers: string;
  saslBrokers: string;
  started: boolean;
}> => {
  const brokers = `127.0.0.1:${KAFKA_PORT}`;
  const saslBrokers = `localhost:${SASL_PORT}`;
  const pid = readPid(brokerPidFile);
  if (isAlive(pid)) {
    if (runsSaslListener()) {
      await waitForBroker(brokers, pid);
      say(`kafka: already running (pid ${pid}) at ${brokers}, SASL_SSL at ${saslBrokers}`);
      return { brokers, saslBrokers, started: false };
    }
    say('kafka: running without the SASL_SSL listener (started before it existed): restarting');
    await stopBroker();
  }
  checkJava();
  if (!(await portIsFree(KAFKA_PORT)))
    throw new StackError(
      `port ${KAFKA_PORT} is already in use by a process this stack did not start: stop it, or set KAFKA_PORT, or point KAFKA_BROKERS at that broker`,
    );
  if (!(await portIsFree(CONTROLLER_PORT)))
    throw new StackError(
      `controller port ${CONTROLLER_PORT} is already in use: set KAFKA_CONTROLLER_PORT`,
    );
  if (!(await portIsFree(SASL_PORT)))
    throw new StackError(`SASL_SSL port ${SASL_PORT} is already in use: set KAFKA_SASL_PORT`);
  const libs = ensureKafkaJars();
  mkdirSync(kafkaDir, { recursive: true });
  const { keystorePassword } = ensureBrokerCertificate();
  const props = join(kafkaDir, 'server.properties');
  writeFileSync(props, serverProperties(keystorePassword), { mode: 0o600 });
  writeFileSync(join(kafkaDir, 'log4j2.properties'), log4jProperties);
  formatStorage(libs, props);
  const heap = process.env.KAFKA_HEAP ?? '1g';
  const newPid = spawnDetached(
    'java',
    [
      `-Xmx${heap}`,
      '-Xms256m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${join(kafkaDir, 'log4j2.properties')}`,
      '-cp',
      `${libs}/*`,
      'kafka.Kafka',
      props,
    ],
    brokerLog,
    brokerPidFile,
  );
  const ms = await waitForBroker(brokers, newPid);
  ensureScramUser(libs, brokers);
  say(
    `kafka: started Apache Kafka ${KAFKA_VERSION} (pid ${newPid}) at ${brokers}, SASL_SSL at ${saslBrokers}, ready in ${ms} ms`,
  );
  return { brokers, saslBrokers, started: true };
};

/**
 * Kills the broker with SIGKILL, as a crashed machine would: no controlled shutdown,
 * no flushed log, transactions left open. `startBroker` brings it back with its data
 * (the log is recovered). Fault tests use it; false when no broker of the stack runs.
 */
export const killBroker = () => stopProcess('kafka', brokerPidFile, 5_000, 'SIGKILL');

/**
 * A fresh broker creates `__consumer_offsets` and `__transaction_state` on first use
 * and answers COORDINATOR_LOAD_IN_PROGRESS while it loads them, which kafkajs's admin
 * does not retry. Touch both coordinators until they answer, so the stack is
 * ready for groups and transactions, not only for metadata.
 */
const warmCoordinators = async (brokers: string) => {
  const kafka = createKafka(brokers);
  const admin = kafka.admin();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  await admin.connect();
  try {
    for (;;) {
      try {
        await admin.fetchOffsets({ groupId: 'stack-readiness', topics: [TOPICS.orders] });
        const producer = kafka.producer({
          transactionalId: 'stack-readiness',
          idempotent: true,
          maxInFlightRequests: 1,
          retry: { retries: 5, initialRetryTime: 100 },
        });
        await producer.connect();
        try {
          const tx = await producer.transaction();
          await tx.abort();
        } finally {
          await producer.disconnect();
        }
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new StackError(
            `Kafka coordinators not ready within ${READY_TIMEOUT_MS} ms: ${(error as Error).message}`,
          );
        await sleep(250);
      }
    }
  } finally {
    await admin.disconnect();
  }
};

/** Creates the pipeline's topics; existing ones are left as they are. */
export const createTopics = async (brokers: string, partitions = PARTITIONS) => {
  const admin = createKafka(brokers).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    // dead letters are their record plus headers: those topics take larger messages
    const deadLetterConfig = Object.entries(DEAD_LETTER_TOPIC_CONFIG).map(([name, value]) => ({
      name,
      value,
    }));
    const wanted = [
      { topic: TOPICS.orders, numPartitions: partitions },
      { topic: TOPICS.processed, numPartitions: partitions },
      { topic: TOPICS.dlq, numPartitions: partitions, configEntries: deadLetterConfig },
      { topic: TOPICS.parkingLot, numPartitions: partitions, configEntries: deadLetterConfig },
      {
        topic: TOPICS.checkpoints,
        numPartitions: partitions,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.cleanable.dirty.ratio', value: '0.1' },
          { name: 'segment.ms', value: '600000' },
        ],
      },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) {
      await admin.createTopics({ topics: wanted, waitForLeaders: true });
      say(`topics: created ${wanted.map((t) => t.topic).join(', ')} (${partitions} partitions)`);
    } else {
      say('topics: all present');
    }
    // a store made before the dead-letter topics had their limit gets it now
    const stale = [TOPICS.dlq, TOPICS.parkingLot].filter((t) => existing.has(t));
    if (stale.length > 0) {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: stale.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name })),
      });
      // raised only: a limit someone set higher stays
      const wantedBytes = Number(DEAD_LETTER_TOPIC_CONFIG['max.message.bytes']);
      const low = resources
        .filter((r) => {
          const entry = r.configEntries.find((e) => e.configName === 'max.message.bytes');
          return Number(entry?.configValue ?? 0) < wantedBytes;
        })
        .map((r) => r.resourceName);
      if (low.length > 0) {
        // AlterConfigs replaces a topic's overrides: these topics have no others
        await admin.alterConfigs({
          validateOnly: false,
          resources: low.map((name) => ({
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name,
            configEntries: deadLetterConfig,
          })),
        });
        say(`topics: ${low.join(', ')} now take dead letters larger than their records`);
      }
    }
  } finally {
    await admin.disconnect();
  }
};

// ---------------------------------------------------------------- moto

const emulatorAnswers = async (url: string) => {
  try {
    const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    return res.status < 500;
  } catch {
    return false;
  }
};

/**
 * The project's Python tools (moto's server, cfn-lint) in a venv of their own,
 * created once from scripts/requirements-moto.txt. Returns the venv's bin folder.
 */
export const ensurePythonTools = (): string => {
  const venv = join(CACHE_DIR, `python-tools-moto-${MOTO_VERSION}`);
  const bin = join(venv, 'bin');
  // a marker written last: a venv without it was cut off half-way and is made again
  const ready = join(venv, '.installed');
  if (existsSync(ready)) return bin;
  // the integration tests' global setup and a unit test may both get here at once
  // on a fresh machine: one creates, the other waits (a venv cannot be moved into
  // place afterwards, its scripts carry absolute paths)
  mkdirSync(CACHE_DIR, { recursive: true });
  const lock = `${venv}.lock`;
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(ready)) return bin;
      if (Date.now() > deadline)
        throw new StackError(`timed out waiting for ${lock} (remove it if no install runs)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    if (existsSync(ready)) return bin;
    rmSync(venv, { recursive: true, force: true });
    say(`creating Python venv with moto[server]==${MOTO_VERSION} and cfn-lint in ${venv} (once)`);
    const mk = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
    if (mk.error)
      throw new StackError('python3 not found on PATH: it is needed for the AWS emulator (moto)');
    if (mk.status !== 0) throw new StackError(`python3 -m venv failed: ${mk.stderr.trim()}`);
    const pip = spawnSync(
      join(bin, 'pip'),
      ['install', '-q', '-r', join(ROOT, 'scripts/requirements-moto.txt')],
      { encoding: 'utf8' },
    );
    if (pip.status !== 0 || !existsSync(join(bin, 'moto_server'))) {
      rmSync(venv, { recursive: true, force: true });
      throw new StackError(
        `pip install of scripts/requirements-moto.txt failed: ${(pip.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`,
      );
    }
    writeFileSync(ready, new Date().toISOString());
    return bin;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
};

export const startEmulator = async (): Promise<{ url: string; started: boolean }> => {
  const url = `http://127.0.0.1:${MOTO_PORT}`;
  const pid = readPid(motoPidFile);
  if (isAlive(pid) && (await emulatorAnswers(url))) {
    say(`moto: already running (pid ${pid}) at ${url}`);
    return { url, started: false };
  }
  if (!(await portIsFree(MOTO_PORT)))
    throw new StackError(
      `port ${MOTO_PORT} is already in use by a process this stack did not start: set MOTO_PORT or AWS_ENDPOINT_URL`,
    );
  const bin = join(ensurePythonTools(), 'moto_server');
  mkdirSync(STATE_DIR, { recursive: true });
  const newPid = spawnDetached(
    bin,
    ['-H', '127.0.0.1', '-p', String(MOTO_PORT)],
    motoLog,
    motoPidFile,
  );
  const started = Date.now();
  while (!(await emulatorAnswers(url))) {
    if (!isAlive(newPid))
      throw new StackError(`moto server exited during start-up: ${tail(motoLog, 3)}`);
    if (Date.now() - started > READY_TIMEOUT_MS)
      throw new StackError(`moto server did not answer within ${READY_TIMEOUT_MS} ms`);
    await sleep(200);
  }
  say(
    `moto: started moto[server] ${MOTO_VERSION} (pid ${newPid}) at ${url}, ready in ${Date.now() - started} ms`,
  );
  return { url, started: true };
};

/**
 * The idempotency tables of the `dev` and `local` stages, so produceOrders runs locally
 * as is; with the stack's broker, the `AmazonMSK_…` secret of its SCRAM user.
 */
const createAwsResources = async (endpoint: string, withScramSecret: boolean) => {
  const { clientsFor, ensureIdempotencyTable, ensureScramSecret } = await import(
    './aws-bootstrap.ts'
  );
  // no keys in the env given: the emulator gets its dummy credentials, whatever the shell has
  const { dynamodb, secrets } = clientsFor(endpoint, { AWS_REGION: process.env.AWS_REGION });
  try {
    for (const stage of ['dev', 'local']) {
      const table = `msk-order-pipeline-${stage}-idempotency`;
      const step = await ensureIdempotencyTable(dynamodb, table);
      if (step.result !== 'exists') say(`aws: table ${table} ${step.detail}`);
    }
    if (withScramSecret) {
      const step = await ensureScramSecret(secrets, {
        name: SCRAM_SECRET_NAME,
        ...scramCredentials(),
      });
      if (step.result !== 'exists') say(`aws: secret ${SCRAM_SECRET_NAME} ${step.detail}`);
    }
  } finally {
    dynamodb.destroy();
    secrets.destroy();
  }
};

/** Glue Schema Registry (moto implements it) with the order schemas in Avro, Protobuf, JSON Schema. */
const createOrderRegistry = async (endpoint: string) => {
  const { ensureOrderRegistry, glueClient } = await import('../src/local/schemaRegistry/glue.ts');
  const glue = glueClient(endpoint, { AWS_REGION: process.env.AWS_REGION });
  try {
    const { registryArn } = await ensureOrderRegistry(glue);
    say(`aws: schema registry ${registryArn} holds the order and result schemas`);
  } catch (error) {
    // an emulator without Glue (LocalStack's free image) still runs everything else
    say(`aws: no schema registry (${(error as Error).name}): the --format demo and tests need one`);
  } finally {
    glue.destroy();
  }
};

// ---------------------------------------------------------------- whole stack

export const readStackEnv = (): StackEnv | undefined =>
  existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as StackEnv) : undefined;

/** Starts (or reuses) broker and emulator and creates the topics. */
export const up = async (): Promise<StackEnv> => {
  mkdirSync(STATE_DIR, { recursive: true });
  let brokers = process.env.KAFKA_BROKERS;
  let saslBrokers: string | undefined;
  let ownsBroker = false;
  if (brokers) {
    if (!(await brokerAnswers(brokers)))
      throw new StackError(`KAFKA_BROKERS=${brokers} is set but no broker answers there`);
    say(`kafka: using KAFKA_BROKERS=${brokers}, starting none`);
    // the stack's own broker, named by the exports `up` printed: its SASL_SSL listener too
    if (
      brokers === `127.0.0.1:${KAFKA_PORT}` &&
      isAlive(readPid(brokerPidFile)) &&
      runsSaslListener()
    )
      saslBrokers = `localhost:${SASL_PORT}`;
  } else {
    const b = await startBroker();
    brokers = b.brokers;
    saslBrokers = b.saslBrokers;
    ownsBroker = true;
  }
  await createTopics(brokers);
  await warmCoordinators(brokers);
  let endpoint = process.env.AWS_ENDPOINT_URL;
  let ownsEmulator = false;
  if (endpoint) {
    say(`aws: using AWS_ENDPOINT_URL=${endpoint}, starting none`);
  } else {
    endpoint = (await startEmulator()).url;
    ownsEmulator = true;
  }
  await createAwsResources(endpoint, saslBrokers !== undefined);
  await createOrderRegistry(endpoint);
  const env: StackEnv = {
    KAFKA_BROKERS: brokers,
    ...(saslBrokers
      ? {
          KAFKA_SASL_BROKERS: saslBrokers,
          KAFKA_TLS_CA_FILE: caFile,
          KAFKA_SCRAM_SECRET_ARN: SCRAM_SECRET_NAME,
        }
      : {}),
    AWS_ENDPOINT_URL: endpoint,
    ownsBroker,
    ownsEmulator,
  };
  writeFileSync(envFile, JSON.stringify(env, null, 2));
  return env;
};

/** Stops everything this stack started. */
export const down = async () => {
  const a = await stopProcess('kafka', brokerPidFile);
  const b = await stopProcess('moto', motoPidFile);
  rmSync(envFile, { force: true });
  return a || b;
};

/** Whether the stack this script runs is up (both processes alive). */
export const status = () => ({
  kafka: isAlive(readPid(brokerPidFile)) ? readPid(brokerPidFile) : undefined,
  moto: isAlive(readPid(motoPidFile)) ? readPid(motoPidFile) : undefined,
  env: readStackEnv(),
});

/** Shell lines for `eval "$(npm run -s stack:up)"`: what the handlers need to reach the stack. */
const exportLines = (env: StackEnv) =>
  [
    `export KAFKA_BROKERS=${env.KAFKA_BROKERS}`,
    // a loopback broker speaks plaintext without auth (the stack's own does)
    ...(env.ownsBroker ? ['export KAFKA_AUTH=none', 'export KAFKA_TLS=false'] : []),
    // the SASL_SSL listener instead: these, in place of the three lines above
    ...(env.KAFKA_SASL_BROKERS
      ? [
          `# SASL_SSL/SCRAM-SHA-512: KAFKA_BROKERS=${env.KAFKA_SASL_BROKERS} KAFKA_AUTH=scram KAFKA_TLS=true KAFKA_SCRAM_SECRET_ARN=${env.KAFKA_SCRAM_SECRET_ARN} KAFKA_TLS_CA_FILE=${env.KAFKA_TLS_CA_FILE}`,
        ]
      : []),
    `export AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}`,
    // shell defaults (escaped, not placeholders): the user's own values win
    `export AWS_REGION=\${AWS_REGION:-us-east-1}`,
    `export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-test}`,
    `export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-test}`,
    '',
  ].join('\n');

const main = async (cmd: string | undefined) => {
  switch (cmd) {
    case 'up': {
      const env = await up();
      process.stdout.write(exportLines(env));
      return;
    }
    case 'down':
      await down();
      return;
    case 'reset':
      await down();
      rmSync(kafkaDir, { recursive: true, force: true });
      say(`removed broker data in ${kafkaDir}`);
      return;
    case 'restart-broker':
      await stopBroker();
      await startBroker();
      return;
    case 'status': {
      const s = status();
      say(
        `kafka: ${s.kafka ? `running (pid ${s.kafka})` : 'stopped'}; moto: ${s.moto ? `running (pid ${s.moto})` : 'stopped'}`,
      );
      if (s.env) process.stdout.write(exportLines(s.env));
      return;
    }
    default:
      throw new StackError('usage: node scripts/stack.ts up|down|status|reset|restart-broker');
  }
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).catch((error: unknown) => {
    say(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

// Exposed for tests that want to look at files the stack wrote.
export const stackPaths = { STATE_DIR, CACHE_DIR, brokerLog, motoLog, kafkaDir, tlsDir, caFile };
export const listCachedKafkaVersions = () =>
  existsSync(CACHE_DIR) ? readdirSync(CACHE_DIR).filter((d) => d.startsWith('kafka-')) : [];
