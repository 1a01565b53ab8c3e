/**
 * The balance of a pipeline run, computed from what an independent client (kcat, read
 * `read_committed`) finds in the topics: every valid order exactly once in
 * `orders.processed`, every poison record once per attempt in the DLQ and exactly once
 * in the parking lot. Pure: the topics come in as records, the figures go out.
 */
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import type { ErrorCode } from '../../src/lib/errors.ts';
import { parseOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { DecodedRecord } from '../../src/lib/events/types.ts';
import type { KcatRecord } from './kcat.ts';

/** Poison kinds a Kafka producer can write (bad base64 exists only in a hand-made event). */
export const POISON_KINDS = ['not-json', 'schema-invalid', 'null-value', 'oversize'] as const;
export type PoisonKind = (typeof POISON_KINDS)[number];

/** The error code a poison record of each kind is dead-lettered with. */
export const POISON_CODES: Record<PoisonKind, ErrorCode> = {
  'not-json': 'NOT_JSON',
  'schema-invalid': 'SCHEMA_VIOLATION',
  'null-value': 'VALUE_NULL',
  oversize: 'RECORD_TOO_LARGE',
};

/** One record the test wrote to the orders topic, known by its (unique) key. */
export interface PlannedInput {
  key: string;
  kind: 'valid' | PoisonKind;
  /** For valid orders: the order id its result must carry. */
  orderId?: string;
}

export interface BalanceInput {
  ordersTopic: string;
  /** `DLQ_MAX_ATTEMPTS` of the run. */
  maxAttempts: number;
  planned: readonly PlannedInput[];
  orders: readonly KcatRecord[];
  processed: readonly KcatRecord[];
  dlq: readonly KcatRecord[];
  parkingLot: readonly KcatRecord[];
}

export interface Balance {
  inputs: { valid: number; poison: number; byKind: Record<string, number> };
  /** Test set-up problems: planned records missing from, doubled in or foreign to the topic. */
  inputProblems: string[];
  results: number;
  /** Valid orders whose record the mapping gave up on (AWS on-failure envelope) and that a republished copy completed. */
  rerouted: number;
  /** Records the mapping gave up on after their outcome (a result, or a dead letter of a poison record) committed: the envelope must not be republished. */
  envelopesOfProcessed: number;
  /** Parked through the DLQ mapping's own on-failure destination (its retries ran out), before the last attempt. */
  parkedEarly: number;
  parked: number;
  dlqRecords: number;
  envelopes: number;
  republishedCopies: number;
  /** What is missing, one line each (`lost` is their number). */
  missing: string[];
  /** What is there once too often, one line per extra copy (`duplicated` is their number). */
  extra: string[];
  /** Records where they must never be (a valid order dead-lettered, a result of a poison record, a wrong error code). */
  misplaced: string[];
  lost: number;
  duplicated: number;
}

const pos = (partition: number | string, offset: number | string) => `${partition}:${offset}`;

const lastOf = (record: DecodedRecord, name: string) =>
  record.headers.get(name)?.at(-1)?.toString();

interface Origin {
  origin: string;
  attempts: number;
  envelope: boolean;
  /** The error code the record was dead-lettered (or parked) with. */
  code?: string;
}

/** Where a DLQ record comes from (its first record in orders), at which attempt. */
const deadLetterOrigin = (record: KcatRecord, ordersTopic: string): Origin | undefined => {
  const h = record.header;
  const partition = h[DLQ_HEADERS.originalPartition];
  const offset = h[DLQ_HEADERS.originalOffset];
  if (
    partition !== undefined &&
    offset !== undefined &&
    h[DLQ_HEADERS.originalTopic] === ordersTopic
  )
    return {
      origin: pos(partition, offset),
      attempts: Number(h[DLQ_HEADERS.attempts]),
      envelope: false,
      code: h[DLQ_HEADERS.errorCode],
    };
  if (record.value === null) return undefined;
  const envelope = parseOnFailureEnvelope(Buffer.from(record.value));
  if (!envelope) return undefined;
  // the mapping gave up on a record of orders: the first one, or a republished copy
  const original = envelope.original;
  const copyOf = lastOf(original, DLQ_HEADERS.originalPartition);
  return copyOf === undefined
    ? { origin: pos(original.partition, original.offset), attempts: 1, envelope: true }
    : {
        origin: pos(copyOf, lastOf(original, DLQ_HEADERS.originalOffset) ?? '?'),
        attempts: Number(lastOf(original, DLQ_HEADERS.attempts) ?? 1),
        envelope: true,
      };
};

const asKcat = (r: DecodedRecord): KcatRecord => {
  const headers: Array<[string, string]> = [];
  for (const [name, values] of r.headers)
    for (const v of values) headers.push([name, v.toString()]);
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
    headers,
    header: Object.fromEntries(headers),
  };
};

/**
 * Where a parked record comes from: a dead letter republishDlq parked (its headers), or
 * an AWS on-failure envelope the DLQ mapping wrote when its retries ran out, holding a
 * DLQ record (a dead letter, or itself an envelope of an orders record).
 */
const parkedOrigin = (record: KcatRecord, ordersTopic: string): Origin | undefined => {
  if (record.header[DLQ_HEADERS.originalPartition] !== undefined)
    return deadLetterOrigin(record, ordersTopic);
  if (record.value === null) return undefined;
  const envelope = parseOnFailureEnvelope(Buffer.from(record.value));
  if (!envelope) return undefined;
  const inner = deadLetterOrigin(asKcat(envelope.original), ordersTopic);
  return inner && { ...inner, envelope: true };
};

/**
 * Checks every record of a run against the plan.
 *
 * @example
 * const balance = deliveryBalance({ ordersTopic, maxAttempts: 2, planned, orders, processed, dlq, parkingLot });
 * expect(balance.lost).toBe(0);
 */
export const deliveryBalance = (input: BalanceInput): Balance => {
  const { ordersTopic, maxAttempts } = input;
  const missing: string[] = [];
  const extra: string[] = [];
  const misplaced: string[] = [];
  const inputProblems: string[] = [];

  // The first records in orders (no x-dlq-attempts) are the inputs; the others are copies.
  const firsts = input.orders.filter((r) => r.header[DLQ_HEADERS.attempts] === undefined);
  const copies = input.orders.filter((r) => r.header[DLQ_HEADERS.attempts] !== undefined);
  const byKey = Map.groupBy(firsts, (r) => r.key ?? '');
  const positionOf = new Map<string, PlannedInput>();
  const byKind: Record<string, number> = {};
  for (const planned of input.planned) {
    byKind[planned.kind] = (byKind[planned.kind] ?? 0) + 1;
    const found = byKey.get(planned.key) ?? [];
    if (found.length !== 1) inputProblems.push(`${planned.key} written ${found.length} times`);
    for (const r of found) positionOf.set(pos(r.partition, r.offset), planned);
  }
  const plannedKeys = new Set(input.planned.map((p) => p.key));
  for (const r of firsts)
    if (!plannedKeys.has(r.key ?? ''))
      inputProblems.push(`unplanned record ${r.key} at ${pos(r.partition, r.offset)}`);

  // Copies republished by republishDlq, by origin and attempt.
  const copyOrigin = new Map<string, string>();
  for (const c of copies) {
    copyOrigin.set(
      pos(c.partition, c.offset),
      pos(
        c.header[DLQ_HEADERS.originalPartition] ?? '?',
        c.header[DLQ_HEADERS.originalOffset] ?? '?',
      ),
    );
  }
  const copiesByAttempt = Map.groupBy(
    copies,
    (c) =>
      `${pos(c.header[DLQ_HEADERS.originalPartition] ?? '?', c.header[DLQ_HEADERS.originalOffset] ?? '?')}#${c.header[DLQ_HEADERS.attempts]}`,
  );

  // Dead letters (and AWS on-failure envelopes) by origin and attempt.
  let envelopes = 0;
  const deadLetters = new Map<string, Array<{ attempts: number; envelope: boolean }>>();
  for (const r of input.dlq) {
    const origin = deadLetterOrigin(r, ordersTopic);
    if (!origin) {
      misplaced.push(`unreadable DLQ record at ${pos(r.partition, r.offset)}`);
      continue;
    }
    if (origin.envelope) envelopes++;
    const list = deadLetters.get(origin.origin) ?? [];
    list.push(origin);
    deadLetters.set(origin.origin, list);
  }
  const parkedByOrigin = new Map<string, Origin[]>();
  for (const r of input.parkingLot) {
    const origin = parkedOrigin(r, ordersTopic);
    if (!origin) {
      misplaced.push(`unreadable parked record at ${pos(r.partition, r.offset)}`);
      continue;
    }
    const list = parkedByOrigin.get(origin.origin) ?? [];
    list.push(origin);
    parkedByOrigin.set(origin.origin, list);
  }

  // Results: by order id and by the source record (a first record, or a copy of it).
  const results = input.processed.map((r) => {
    const result = JSON.parse(r.value ?? 'null') as {
      orderId: string;
      source: { topic: string; partition: number; offset: number };
    };
    return { orderId: result.orderId, source: pos(result.source.partition, result.source.offset) };
  });
  for (const [source, list] of Map.groupBy(results, (r) => r.source))
    for (const _ of list.slice(1)) extra.push(`a second result from source ${source}`);
  const resultsById = Map.groupBy(results, (r) => r.orderId);
  const validIds = new Set<string>();

  let rerouted = 0;
  let envelopesOfProcessed = 0;
  let parkedEarly = 0;
  for (const [at, planned] of positionOf) {
    const letters = deadLetters.get(at) ?? [];
    const parked = parkedByOrigin.get(at) ?? [];
    if (planned.kind === 'valid') {
      const id = planned.orderId!;
      validIds.add(id);
      const mine = resultsById.get(id) ?? [];
      if (mine.length === 0) missing.push(`order ${id} (${at}) has no result`);
      for (const _ of mine.slice(1)) extra.push(`order ${id} (${at}) has another result`);
      for (const r of mine) {
        if (r.source === at) {
          // its result committed, yet the mapping sent it on: republishDlq must not copy it
          if (letters.some((l) => l.envelope)) envelopesOfProcessed++;
          continue;
        }
        if (copyOrigin.get(r.source) === at && letters.some((l) => l.envelope)) rerouted++;
        else misplaced.push(`order ${id} (${at}) has a result from ${r.source}`);
      }
      for (const l of letters.filter((l) => !l.envelope))
        misplaced.push(`valid order ${id} (${at}) dead-lettered at attempt ${l.attempts}`);
      if (parked.length > 0) misplaced.push(`valid order ${id} (${at}) parked`);
      continue;
    }
    // poison: attempt 1..max in the DLQ (an oversize record only 1: republishDlq cannot
    // read its dead letter either and parks it), copies 2..max in orders, parked once;
    // or parked earlier by the DLQ mapping's on-failure destination, as deployed
    const early = parked.find((p) => p.envelope);
    if (early) parkedEarly++;
    const lastAttempt = early ? early.attempts : planned.kind === 'oversize' ? 1 : maxAttempts;
    for (let attempt = 1; attempt <= lastAttempt; attempt++) {
      const atAttempt = letters.filter((l) => l.attempts === attempt);
      const written = atAttempt.filter((l) => !l.envelope).length;
      const envelopesHere = atAttempt.length - written;
      // The handler dead-lettered it and then the mapping gave up on it too (the
      // invocation failed after its commit): republishDlq must drop that envelope,
      // which the copies of the next attempt show. Without the handler's dead letter
      // the envelope stands in for it.
      if (written > 0) envelopesOfProcessed += envelopesHere;
      const n = written > 0 ? written : envelopesHere;
      if (n === 0) missing.push(`${planned.key} (${at}) attempt ${attempt} not in the DLQ`);
      for (let i = 1; i < n; i++)
        extra.push(`${planned.key} (${at}) attempt ${attempt} again in the DLQ`);
      if (attempt === 1) continue;
      const c = copiesByAttempt.get(`${at}#${attempt}`)?.length ?? 0;
      if (c === 0) missing.push(`${planned.key} (${at}) attempt ${attempt} not republished`);
      for (let i = 1; i < c; i++)
        extra.push(`${planned.key} (${at}) attempt ${attempt} republished again`);
    }
    for (const l of letters.filter((l) => l.attempts > lastAttempt))
      misplaced.push(`${planned.key} (${at}) dead-lettered at attempt ${l.attempts}`);
    if (parked.length === 0) missing.push(`${planned.key} (${at}) not parked`);
    for (const _ of parked.slice(1)) extra.push(`${planned.key} (${at}) parked again`);
    for (const p of parked) {
      if (p.code !== POISON_CODES[planned.kind])
        misplaced.push(`${planned.key} (${at}) parked with ${p.code}`);
      if (p.attempts !== lastAttempt)
        misplaced.push(`${planned.key} (${at}) parked at attempt ${p.attempts}`);
    }
  }
  for (const [id, list] of resultsById)
    if (!validIds.has(id)) misplaced.push(`result ${id} from ${list[0]!.source} is no valid input`);
  for (const origin of parkedByOrigin.keys())
    if (!positionOf.has(origin)) misplaced.push(`parked record of unknown origin ${origin}`);

  return {
    inputs: {
      valid: input.planned.filter((p) => p.kind === 'valid').length,
      poison: input.planned.filter((p) => p.kind !== 'valid').length,
      byKind,
    },
    inputProblems,
    results: results.length,
    rerouted,
    envelopesOfProcessed,
    parkedEarly,
    parked: input.parkingLot.length,
    dlqRecords: input.dlq.length,
    envelopes,
    republishedCopies: copies.length,
    missing,
    extra,
    misplaced,
    lost: missing.length,
    duplicated: extra.length,
  };
};
