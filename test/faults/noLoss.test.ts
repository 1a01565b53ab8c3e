/**
 * The fault test of the delivery guarantees (DESIGN.md, "Delivery guarantees"): the whole
 * pipeline on the real broker, its two event-source mappings run by the local mapping,
 * while every kind of fault is injected. Then kcat, an independent client, reads every
 * topic `read_committed` and the balance must hold: every valid order exactly once in
 * `orders.processed` (by order id and by source record), every poison record once per
 * attempt in the DLQ and exactly once in the parking lot, nothing lost, nothing doubled.
 *
 * Faults: (a) crash after a partition's commit, before the response, at seeded random
 * commits and once as the broker dies (the committed batch's retries then fail for the
 * whole outage); (b) the broker stopped and restarted mid-stream, then killed with SIGKILL
 * and restarted; (c) transient errors at a seeded random rate; (d) poison records
 * (not JSON, schema-invalid, null value, oversize; bad base64 cannot be produced through
 * Kafka: the mapping base64-encodes whatever bytes it fetched, so it exists only in
 * hand-made events, covered by test/integration); (e) committed batches delivered again,
 * to the warm container and to a cold one; (f) two containers racing for one partition;
 * (g) three warm containers per function, each batch given to one at random (partitions
 * move between containers, whose cached producers another one has fenced). Both
 * mappings run as serverless.yml deploys them: processOrders' retries, bisection and
 * on-failure destination (the DLQ), republishDlq's retries and on-failure destination
 * (the parking lot), and the republish back-off as configured (shortened through
 * `DLQ_BACKOFF_*`, not by code).
 *
 * It restarts the shared broker: run it alone (CI runs integration files one at a time).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { killBroker, startBroker, stopBroker } from '../../scripts/stack.ts';
import { functionPrefix, type PipelineConfig } from '../../src/lib/config.ts';
import {
  createProcessOrdersHandler,
  type ProcessOrdersDeps,
} from '../../src/lib/delivery/processOrders.ts';
import { createRepublishDlqHandler } from '../../src/lib/delivery/republishDlq.ts';
import { RetriableError } from '../../src/lib/errors.ts';
import type { KafkaBatchResponse } from '../../src/lib/events/types.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import type { OutboundMessage, PlacedMessage } from '../../src/lib/kafka/types.ts';
import {
  type LocalMapping,
  type LocalMappingHandle,
  readMappings,
  startLocalMapping,
} from '../../src/local/esm/index.ts';
import {
  deliveryBalance,
  type PlannedInput,
  POISON_KINDS,
  type PoisonKind,
} from '../support/deliveryBalance.ts';
import { orderFixture, overLimitOrderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { mskEvent } from '../support/mskEvent.ts';
import { seededRandom } from '../support/seededRandom.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

const VALID_ORDERS = 10_000;
/** One slot in this many is a poison record: about 310 of them. */
const POISON_EVERY = 33;
/** Records per transaction of the feeder. */
const FEED_TX = 250;
const MAX_ATTEMPTS = 2;
const MAX_RECORD_BYTES = 16_384;
const SEED = 20_251_125;
const TRANSIENT_RATE = 0.01;
/** Warm containers per function; the mapping gives each batch to one at random. */
const CONTAINERS = 3;
/**
 * Crashes after a commit, at seeded random commits of each function. They are drawn
 * from the first 120 and the first 10: runs commit 160–190 and 13–20 times (batching
 * follows timing), and a crash point beyond the last commit would never fire.
 */
const CRASHES = 5;
const REPUBLISH_CRASHES = 2;
const CRASH_WINDOW = 120;
const REPUBLISH_CRASH_WINDOW = 10;
/** The broker is stopped cleanly once this many results are committed... */
const RESTART_AFTER_RESULTS = 1_500;
/** ...and killed (SIGKILL) at the first commit after this many, which then crashes too. */
const KILL_AFTER_RESULTS = 6_500;
/**
 * How long the killed broker stays down before its restart begins (a restart after SIGKILL
 * recovers its log: about 15 s more here). Together longer than processOrders' five retries
 * last, so
 * the mapping gives up on the batch whose commit crashed and sends it on to the DLQ.
 */
const KILL_OUTAGE_MS = 5_000;
/** Records of a partition the racing containers both get. */
const RACE_RECORDS = 60;
/** Committed batches of each function delivered again at the end. */
const REDELIVERIES = 3;
const BUDGET_MS = 240_000;

type Handler = (event: unknown, context?: Partial<Context>) => Promise<KafkaBatchResponse>;

interface Input extends PlannedInput {
  message: OutboundMessage;
}

const clients: KafkaClient[] = [];
const newClient = (clientId: string) => {
  const c = new KafkaClient({ clientId, brokers: kafkaBrokers().split(',') });
  clients.push(c);
  return c;
};
const mappings: LocalMappingHandle[] = [];
let brokerDown = false;

afterAll(async () => {
  // a failure during the outage must not leave the shared stack without its broker
  if (brokerDown) await startBroker();
  await Promise.allSettled(mappings.map((m) => m.stop()));
  await Promise.allSettled(clients.map((c) => c.close()));
}, 150_000);

const pad = (n: number) => String(n).padStart(6, '0');

/** The inputs in the order they are written: valid orders with a poison record every so often. */
const planInputs = (topic: string): Input[] => {
  const inputs: Input[] = [];
  let valid = 0;
  let poison = 0;
  for (let slot = 0; valid < VALID_ORDERS; slot++) {
    if (slot % POISON_EVERY === POISON_EVERY - 1) {
      const kind = POISON_KINDS[poison % POISON_KINDS.length]!;
      inputs.push(poisonInput(topic, poison++, kind));
      continue;
    }
    const i = valid++;
    // every 50th is valid but over the limit: a rejection is a result, not a failure
    const order = i % 50 === 49 ? overLimitOrderFixture(i) : orderFixture(i);
    inputs.push({
      key: order.orderId,
      kind: 'valid',
      orderId: order.orderId,
      message: { topic, key: order.orderId, value: JSON.stringify(order) },
    });
  }
  return inputs;
};

const poisonInput = (topic: string, n: number, kind: PoisonKind): Input => {
  const key = `poison-${pad(n)}`;
  const order = orderFixture(900_000 + n);
  const value = {
    'not-json': `orderId=${order.orderId};currency=EUR`,
    'schema-invalid': JSON.stringify({ ...order, currency: 'EURO' }),
    'null-value': null,
    // a valid order but for its size: the size is checked before anything else
    oversize: JSON.stringify({ ...order, note: 'x'.repeat(MAX_RECORD_BYTES) }),
  }[kind];
  return { key, kind, message: { topic, key, value } };
};

/** Rejects when `promise` does not settle within `ms`: no wait in this test is unbounded. */
const within = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

const waitFor = async (what: string, done: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
};

/**
 * The containers of one function: warm across invocations, gone when an invocation
 * crashes (its client is closed under any partition work still running, as a process
 * exit would cut it), so the next invocation is a cold start with a new client.
 */
const containers = (name: string, build: (client: KafkaClient) => Handler, n = CONTAINERS) => {
  const counts = { coldStarts: 0, crashes: 0, unexpected: [] as string[] };
  const slot = (): Handler => {
    let warm: { client: KafkaClient; handler: Handler } | undefined;
    return async (event, context) => {
      if (!warm) {
        const client = newClient(`${name}-${++counts.coldStarts}`);
        warm = { client, handler: build(client) };
      }
      const container = warm;
      try {
        return await container.handler(event, context);
      } catch (error) {
        counts.crashes++;
        const message = error instanceof Error ? error.message : String(error);
        if (!message.startsWith('injected:')) counts.unexpected.push(message);
        if (warm === container) warm = undefined;
        void container.client.close();
        throw error;
      }
    };
  };
  const handlers = Array.from({ length: n }, slot);
  return { handlers, handler: handlers[0]!, counts };
};

/** `count` distinct whole numbers from 1 to `max`, drawn with `random`. */
const pick = (random: () => number, count: number, max: number) => {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(1 + Math.floor(random() * max));
  return picked;
};

const eventRecords = (event: unknown) =>
  Object.values((event as { records: Record<string, unknown[]> }).records).reduce(
    (n, list) => n + list.length,
    0,
  );

/** The deployed mapping of `fn` (serverless.yml), on this run's topics and group. */
const mappingOf = (fn: string, overrides: Partial<LocalMapping>): LocalMapping => {
  const file = fileURLToPath(new URL('../../serverless.yml', import.meta.url));
  const deployed = readMappings(file).find((m) => m.functionName === fn);
  if (!deployed) throw new Error(`serverless.yml has no mapping for ${fn}`);
  return { ...deployed, environment: {}, ...overrides };
};

describe('no loss, no duplicate under faults', () => {
  it(`balances ${VALID_ORDERS} orders and the poison records through every fault`, async () => {
    const started = Date.now();
    const deadline = started + BUDGET_MS;
    const left = () => Math.max(1_000, deadline - Date.now());
    const phases: string[] = [];
    let phaseStart = started;
    const phase = (name: string) => {
      phases.push(`${name} ${((Date.now() - phaseStart) / 1_000).toFixed(1)}`);
      phaseStart = Date.now();
    };

    // Prepare: isolated topics, the inputs, the two functions' containers
    const config: PipelineConfig = isolatedPipelineConfig('faults', {
      DLQ_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      // the deployed back-off, shortened by configuration: 100 ms, 200 ms, ... at most 1 s
      DLQ_BACKOFF_BASE_MS: '100',
      DLQ_BACKOFF_MAX_MS: '1000',
      MAX_RECORD_BYTES: String(MAX_RECORD_BYTES),
    });
    const { topics } = config;
    await createPipelineTopics(newClient('faults-admin'), config, { dlq: 2, parkingLot: 1 });
    const inputs = planInputs(topics.orders);
    const half = Math.floor(inputs.length / 2);

    const faults = {
      crashes: 0,
      crashesAtKill: 0,
      republishCrashes: 0,
      brokerRestarts: 0,
      brokerKills: 0,
      outageMs: 0,
      killOutageMs: 0,
      fencedReinits: 0,
      resultsAtStop: 0,
      commitsAtStop: 0,
      transient: 0,
      poison: inputs.filter((i) => i.kind !== 'valid').length,
      redeliveredBatches: 0,
      redeliveredRecords: 0,
      races: 0,
    };
    const random = seededRandom(SEED);
    const crashAfterCommits = pick(random, CRASHES, CRASH_WINDOW);
    const republishCrashAfterCommits = pick(random, REPUBLISH_CRASHES, REPUBLISH_CRASH_WINDOW);
    const dispatch = seededRandom(SEED + 1);
    let killArmed = false;
    let killed: Promise<unknown> | undefined;
    let commits = 0;
    let republishCommits = 0;
    let resultsCommitted = 0;

    const processOrders = containers('faults-processOrders', (client) =>
      createProcessOrdersHandler({
        config,
        kafka: async () => client,
        onOutcome: (outcome) => {
          if (outcome.kind === 'ok') resultsCommitted++;
        },
        onBatch: ({ partitions }) => {
          for (const p of partitions) faults.fencedReinits += p.reinits;
        },
        beforeRecord: () => {
          if (random() < TRANSIENT_RATE) {
            faults.transient++;
            throw new RetriableError('TRANSIENT', 'injected: a dependency is unavailable');
          }
        },
        afterCommit: async () => {
          ++commits;
          if (killArmed && resultsCommitted >= KILL_AFTER_RESULTS) {
            // the broker dies right after this commit, and so does the container
            killArmed = false;
            killed = killBroker();
            await killed;
            faults.crashes++;
            faults.crashesAtKill++;
            throw new Error(`injected: crash after commit ${commits} as the broker is killed`);
          }
          if (crashAfterCommits.has(commits)) {
            faults.crashes++;
            throw new Error(`injected: crash after commit ${commits}, before the response`);
          }
        },
      }),
    );
    const republishDlq = containers('faults-republishDlq', (client) =>
      createRepublishDlqHandler({
        config,
        kafka: async () => client,
        onBatch: ({ partitions }) => {
          for (const p of partitions) faults.fencedReinits += p.reinits;
        },
        afterCommit: () => {
          if (republishCrashAfterCommits.has(++republishCommits)) {
            faults.republishCrashes++;
            throw new Error(
              `injected: crash after commit ${republishCommits}, before the response`,
            );
          }
        },
      }),
    );

    /** Keeps a few batches each function committed whole, to deliver them again later. */
    const committedBatches = { processOrders: [] as unknown[], republishDlq: [] as unknown[] };
    const keeping =
      (handler: Handler, kept: unknown[]): Handler =>
      async (event, context) => {
        const response = await handler(event, context);
        if (
          response.batchItemFailures.length === 0 &&
          kept.length < REDELIVERIES &&
          eventRecords(event) >= 10
        )
          kept.push(structuredClone(event));
        return response;
      };

    const feeder = { client: newClient('faults-feeder') };
    const placed: Array<{ input: Input; at: PlacedMessage }> = [];
    const feed = async (batch: Input[]) => {
      for (let i = 0; i < batch.length; i += FEED_TX) {
        const chunk = batch.slice(i, i + FEED_TX);
        for (let attempt = 1; ; attempt++) {
          try {
            const { producer } = feeder.client.transactionalProducer(`${config.service}-feeder`);
            const at = await producer.write(chunk.map((c) => c.message));
            for (const [k, input] of chunk.entries()) placed.push({ input, at: at[k]! });
            break;
          } catch (error) {
            if (attempt >= 5) throw error;
            await sleep(500 * attempt);
          }
        }
      }
    };

    // Act 1: the first half of the inputs
    await feed(inputs.slice(0, half));
    phase('set-up and first half');

    // Act 2 (f): two containers racing for one partition, before the mapping runs
    const raceEvent = (partition: number) =>
      mskEvent(
        placed
          .filter((p) => p.at.partition === partition)
          .sort((a, b) => Number(a.at.offset) - Number(b.at.offset))
          .slice(0, RACE_RECORDS)
          .map(({ input, at }) => ({
            topic: topics.orders,
            partition,
            offset: Number(at.offset),
            key: input.key,
            value: input.message.value,
          })),
      );
    const raceContainer = (hooks: Pick<ProcessOrdersDeps, 'beforeRecord' | 'afterCommit'> = {}) => {
      const client = newClient('faults-race');
      return createProcessOrdersHandler({ config, kafka: async () => client, ...hooks });
    };
    // both at once
    {
      const event = raceEvent(0);
      const responses = await within(
        Promise.all([raceContainer()(event), raceContainer()(event)]),
        30_000,
        'race on partition 0',
      );
      expect(responses.some((r) => r.batchItemFailures.length === 0)).toBe(true);
      faults.races++;
    }
    // the older one stalls mid-batch while the newer one runs the same batch to the end
    {
      const event = raceEvent(1);
      const stallAt = (event.records[`${topics.orders}-1`] ?? [])[RACE_RECORDS / 2]!.offset;
      const entered = Promise.withResolvers<void>();
      const gate = Promise.withResolvers<void>();
      const older = raceContainer({
        beforeRecord: async (r) => {
          if (r.offset === stallAt) {
            entered.resolve();
            await gate.promise;
          }
        },
      });
      const olderRun = older(event);
      await within(entered.promise, 30_000, 'older container reaching the stall');
      const newer = await within(raceContainer()(event), 30_000, 'newer container');
      gate.resolve();
      await within(olderRun, 30_000, 'older container');
      expect(newer.batchItemFailures).toEqual([]);
      faults.races++;
    }
    // the older one committed and stalls before its response; the newer one runs meanwhile
    {
      const event = raceEvent(2);
      const committed = Promise.withResolvers<void>();
      const gate = Promise.withResolvers<void>();
      const older = raceContainer({
        afterCommit: async () => {
          committed.resolve();
          await gate.promise;
        },
      });
      const olderRun = older(event);
      await within(committed.promise, 30_000, 'older container committing');
      const newer = await within(raceContainer()(event), 30_000, 'newer container');
      gate.resolve();
      const olderResponse = await within(olderRun, 30_000, 'older container');
      expect(newer.batchItemFailures).toEqual([]);
      expect(olderResponse.batchItemFailures).toEqual([]);
      faults.races++;
    }
    phase('races');

    // Act 3: the mappings, as serverless.yml deploys them, on this run's topics
    const warnings: string[] = [];
    const start = (mapping: LocalMapping, handler: Handler[]) =>
      startLocalMapping({
        mapping,
        handler,
        random: dispatch,
        brokers: kafkaBrokers(),
        retryBackoff: { initialMs: 50, maxMs: 5_000 },
        onEvent: (e) => {
          if (e.type === 'warning') warnings.push(e.message);
        },
      }).then((handle) => {
        mappings.push(handle);
        return handle;
      });
    const ordersMapping = await start(
      mappingOf('processOrders', {
        topic: topics.orders,
        consumerGroupId: functionPrefix(config, 'processOrders'),
        // as deployed (retries, bisection, on-failure destination), on this run's DLQ:
        // batches whose retries run out during the outage go there as AWS envelopes and
        // come back through republishDlq (the balance counts them as `rerouted`)
        onFailureDestination: topics.dlq,
        timeoutSeconds: 30,
      }),
      processOrders.handlers.map((h) => keeping(h, committedBatches.processOrders)),
    );
    const dlqMapping = await start(
      mappingOf('republishDlq', {
        topic: topics.dlq,
        consumerGroupId: functionPrefix(config, 'republishDlq'),
        // as deployed (retries, on-failure destination), on this run's parking lot
        onFailureDestination: topics.parkingLot,
        timeoutSeconds: 30,
      }),
      republishDlq.handlers.map((h) => keeping(h, committedBatches.republishDlq)),
    );
    phase('mappings started');

    // Act 4 (b): the broker stops mid-stream and comes back with its data
    await waitFor(
      `${RESTART_AFTER_RESULTS} results before the restart`,
      () => resultsCommitted >= RESTART_AFTER_RESULTS,
      left(),
    );
    phase('to the stop');
    faults.resultsAtStop = resultsCommitted;
    faults.commitsAtStop = commits;
    brokerDown = true;
    const downAt = Date.now();
    if (!(await stopBroker()))
      throw new Error('the broker restart needs the broker of scripts/stack.ts (no KAFKA_BROKERS)');
    await sleep(1_000);
    await startBroker();
    brokerDown = false;
    faults.brokerRestarts++;
    faults.outageMs = Date.now() - downAt;

    // Act 5: the second half, by a feeder that starts afresh after the restart
    feeder.client = newClient('faults-feeder-2');
    await feed(inputs.slice(half));
    phase('restart and second half');

    // Act 5b (a, b): the broker killed with SIGKILL right after a commit whose container
    // crashes too; it stays down longer than the mapping's retries, then comes back
    killArmed = true;
    await waitFor('the broker killed after a commit', () => killed !== undefined, left());
    const killedAt = Date.now();
    brokerDown = true;
    await killed;
    await sleep(KILL_OUTAGE_MS);
    await startBroker();
    brokerDown = false;
    faults.brokerKills++;
    faults.killOutageMs = Date.now() - killedAt;
    phase('kill and restart');

    // Act 6: until both mappings are caught up and nothing moves any more
    const invocations = () => ordersMapping.stats.invocations + dlqMapping.stats.invocations;
    for (let before = -1; before !== invocations(); ) {
      before = invocations();
      await ordersMapping.idle({ timeoutMs: left() });
      await dlqMapping.idle({ timeoutMs: left() });
      await ordersMapping.idle({ timeoutMs: left() });
    }
    phase('caught up');

    // Act 7 (e): committed batches delivered again, to the warm container and a cold one
    const redeliveryFailures: unknown[] = [];
    const redeliver = async (kept: unknown[], warm: Handler, cold: () => Handler) => {
      for (const event of kept) {
        for (const handler of [warm, cold()]) {
          const response = await within(
            handler(structuredClone(event)),
            30_000,
            'a redelivered batch',
          );
          redeliveryFailures.push(...response.batchItemFailures);
          faults.redeliveredBatches++;
          faults.redeliveredRecords += eventRecords(event);
        }
      }
    };
    await redeliver(committedBatches.processOrders, processOrders.handler, () => {
      const client = newClient('faults-cold-processOrders');
      return createProcessOrdersHandler({ config, kafka: async () => client });
    });
    await redeliver(committedBatches.republishDlq, republishDlq.handler, () => {
      const client = newClient('faults-cold-republishDlq');
      return createRepublishDlqHandler({ config, kafka: async () => client });
    });
    await Promise.all([ordersMapping.stop(), dlqMapping.stop()]);
    phase('redeliveries');

    // Assess: every topic as kcat reads it, read_committed
    const [orders, processed, dlq, parkingLot] = await Promise.all([
      kcatRead(topics.orders),
      kcatRead(topics.processed),
      kcatRead(topics.dlq),
      kcatRead(topics.parkingLot),
    ]);
    const balance = deliveryBalance({
      ordersTopic: topics.orders,
      maxAttempts: MAX_ATTEMPTS,
      planned: inputs,
      orders,
      processed,
      dlq,
      parkingLot,
    });
    phase('read back');
    const esm = (h: LocalMappingHandle) => {
      const s = h.stats;
      return `${s.invocations} invocations, ${s.partialFailures} partial, ${s.failedInvocations} failed, ${s.bisections} bisections, ${s.onFailureRecords} to on-failure`;
    };
    console.log(
      [
        `fault test ${config.service}: ${((Date.now() - started) / 1_000).toFixed(1)} s`,
        `  inputs     ${balance.inputs.valid} valid orders, ${balance.inputs.poison} poison (${POISON_KINDS.map((k) => `${k} ${balance.inputs.byKind[k] ?? 0}`).join(', ')})`,
        `  faults     crash after commit: processOrders ${faults.crashes} (of ${commits} commits; ${faults.crashesAtKill} as the broker was killed), republishDlq ${faults.republishCrashes} (of ${republishCommits})`,
        `             broker restarts ${faults.brokerRestarts} (outage ${faults.outageMs} ms, at ${faults.resultsAtStop} results, commit ${faults.commitsAtStop}); SIGKILLs ${faults.brokerKills} (outage ${faults.killOutageMs} ms)`,
        `             transient errors ${faults.transient} (rate ${TRANSIENT_RATE}, seed ${SEED})`,
        `             poison records ${faults.poison}`,
        `             redelivered batches ${faults.redeliveredBatches} (${faults.redeliveredRecords} records)`,
        `             racing containers ${faults.races}`,
        `  containers ${CONTAINERS} per function, batches given at random: processOrders ${ordersMapping.stats.invocationsByContainer.join('/')} invocations, ${processOrders.counts.coldStarts} cold starts; republishDlq ${dlqMapping.stats.invocationsByContainer.join('/')}, ${republishDlq.counts.coldStarts} cold starts (a crash ends its container)`,
        `             fenced re-inits ${faults.fencedReinits} (a cached producer fenced by another container, replaced within the invocation)`,
        `  phases (s) ${phases.join(', ')}`,
        `  mappings   orders: ${esm(ordersMapping)}; dlq: ${esm(dlqMapping)}`,
        `  warnings   ${warnings.length}${warnings.length ? `, e.g. ${[...new Set(warnings.map((w) => w.slice(0, 140)))].slice(0, 3).join(' | ')}` : ''}`,
        `  topics     processed ${balance.results}, dlq ${balance.dlqRecords} (${balance.envelopes} on-failure envelopes: ${balance.envelopesOfProcessed} of processed records, not copied; ${balance.rerouted} rerouted valid), republished ${balance.republishedCopies}, parked ${balance.parked} (${balance.parkedEarly} early by the DLQ mapping)`,
        `  balance    lost ${balance.lost}, duplicated ${balance.duplicated}, misplaced ${balance.misplaced.length}`,
        ...[...balance.inputProblems, ...balance.missing, ...balance.extra, ...balance.misplaced]
          .slice(0, 10)
          .map((line) => `    ${line}`),
      ].join('\n'),
    );

    expect(balance.inputProblems).toEqual([]);
    expect({ lost: balance.lost, first: balance.missing.slice(0, 5) }).toEqual({
      lost: 0,
      first: [],
    });
    expect({ duplicated: balance.duplicated, first: balance.extra.slice(0, 5) }).toEqual({
      duplicated: 0,
      first: [],
    });
    expect(balance.misplaced.slice(0, 5)).toEqual([]);
    expect(balance.results).toBe(VALID_ORDERS);
    // the handlers failed only where a crash was injected: the restart came back as partial failures
    expect([...processOrders.counts.unexpected, ...republishDlq.counts.unexpected]).toEqual([]);
    // a committed batch delivered again is all skipped: nothing to fail
    expect(redeliveryFailures).toEqual([]);
    // every fault kind was injected
    expect(faults.crashes).toBeGreaterThan(0);
    expect(faults.republishCrashes).toBeGreaterThan(0);
    expect(faults.brokerRestarts).toBe(1);
    expect(faults.brokerKills).toBe(1);
    expect(faults.crashesAtKill).toBe(1);
    expect(faults.transient).toBeGreaterThan(0);
    expect(committedBatches.processOrders.length).toBeGreaterThan(0);
    expect(committedBatches.republishDlq.length).toBeGreaterThan(0);
    expect(faults.races).toBe(3);
  }, 290_000);
});
