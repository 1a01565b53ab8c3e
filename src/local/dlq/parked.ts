/**
 * The pure core of the parking-lot tool: what a parked or dead-lettered record says
 * (its `x-dlq-*` story, the order it holds, whether it can be put back), the filters an
 * operator selects with, and the message a replay writes. No I/O: the clock and the
 * records come in as arguments.
 */
import { DLQ_HEADERS, ON_FAILURE_ERROR_CODE } from '../../lib/delivery/deadLetter.ts';
import { lastHeaderText } from '../../lib/events/headers.ts';
import { isOnFailureEnvelope, parseOnFailureEnvelope } from '../../lib/events/onFailureEnvelope.ts';
import type { HeaderMap } from '../../lib/events/types.ts';
import {
  type OutboundMessage,
  type StoredRecord,
  toOutboundHeaders,
} from '../../lib/kafka/index.ts';

/** Headers a replay adds (README "Parking-lot tool"). */
export const REPLAY_HEADERS = {
  replayedAt: 'x-dlq-replayed-at',
  replayId: 'x-dlq-replay-id',
  /** `<topic>:<partition>:<offset>` of the parked record the replay put back. */
  replayedFrom: 'x-dlq-replayed-from',
} as const;

/**
 * `x-dlq-*` headers a replay keeps: the failure log, so a record that fails again
 * carries its whole story. Every other `x-dlq-*` header is failure state (attempts,
 * back-off, origin, last error) that would make processOrders and republishDlq count
 * on from the old attempts: a replay starts the record afresh.
 */
const KEPT_DLQ_HEADERS: ReadonlySet<string> = new Set([DLQ_HEADERS.history]);

/** AWS wraps at most a record of a record (the DLQ mapping's envelope of an orders envelope). */
const MAX_ENVELOPE_DEPTH = 4;

/** One envelope around the record, outermost first. */
export interface EnvelopeLayer {
  condition: string;
  approximateInvokeCount: number;
  timestamp: string;
  functionError?: string;
  /** Where the wrapped record was read from when AWS gave up on it. */
  recordTopic: string;
  recordPartition: number;
  recordOffset: number;
}

/** What a parked or dead-lettered record says, read from its headers and value. */
export interface ParkedRecord {
  /** Where it sits now (the parking lot or the DLQ). */
  topic: string;
  partition: number;
  offset: string;
  /** When it was written there, epoch milliseconds. */
  timestamp: number;
  /** The latest failure's code; `undefined` when nothing says. */
  errorCode?: string;
  /** Every code in its story (latest failure, inner dead letter, history). */
  codes: string[];
  errorMessage?: string;
  attempts?: number;
  source?: string;
  firstFailedAt?: string;
  failedAt?: string;
  notBefore?: string;
  /** Where the record was first read from (`x-dlq-original-*`, or an envelope's record). */
  original: { topic?: string; partition?: number; offset?: string; timestamp?: string };
  orderId?: string;
  /** `x-dlq-history` entries, oldest first: parsed JSON, or the text when not JSON. */
  history: unknown[];
  /** An earlier replay this record came from, when it failed again after one. */
  replayedBefore?: { replayId?: string; replayedAt?: string; from?: string };
  /** AWS on-failure envelopes around the record, outermost first (empty for a dead letter). */
  envelopes: EnvelopeLayer[];
  /** The record a replay puts back: inside the envelopes, if any. */
  payload: { key: Buffer | null; value: Buffer | null; headers: HeaderMap };
  /** Why it cannot be replayed; `undefined` when it can. */
  notReplayable?: string;
}

const attemptsOf = (text: string | undefined): number | undefined =>
  text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : undefined;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The order id: `orderId` of a JSON value, else the key as text. */
export const orderIdOf = (key: Buffer | null, value: Buffer | null): string | undefined => {
  if (value !== null && value.length > 0 && value.length < 1_048_576) {
    try {
      const parsed: unknown = JSON.parse(value.toString('utf8'));
      if (isObject(parsed) && typeof parsed.orderId === 'string' && parsed.orderId !== '')
        return parsed.orderId;
    } catch {
      // not JSON: the key may still name it
    }
  }
  const text = key === null ? undefined : decodeText(key);
  return text === undefined || text === '' ? undefined : text;
};

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8 without control characters, else `undefined`. */
export const decodeText = (bytes: Buffer): string | undefined => {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
};

/** A header or value for display: text when it is text, base64 otherwise. */
export type DisplayBytes = { text: string } | { base64: string };

/** Bytes for display (see {@link DisplayBytes}). */
export const displayBytes = (bytes: Buffer): DisplayBytes => {
  const text = decodeText(bytes);
  return text === undefined ? { base64: bytes.toString('base64') } : { text };
};

const parseHistory = (headers: HeaderMap): unknown[] =>
  (headers.get(DLQ_HEADERS.history) ?? []).map((b) => {
    const text = b.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  });

/**
 * Reads a stored parked or dead-lettered record: its `x-dlq-*` headers, the AWS
 * on-failure envelopes around it (unwrapped down to the original record), its order id
 * and whether a replay can put it back. Never throws.
 *
 * @example
 * const parked = describeParked(record);
 * if (!parked.notReplayable) messages.push(replayMessage(parked, { topic: 'orders', replayId, now }));
 */
export const describeParked = (record: StoredRecord): ParkedRecord => {
  const envelopes: EnvelopeLayer[] = [];
  let payload = { key: record.key, value: record.value, headers: record.headers };
  let notReplayable: string | undefined;
  let envelopeCode: string | undefined;
  while (payload.value !== null && isOnFailureEnvelope(payload.value)) {
    if (envelopes.length >= MAX_ENVELOPE_DEPTH) {
      notReplayable = `AWS on-failure envelopes nested deeper than ${MAX_ENVELOPE_DEPTH}`;
      break;
    }
    const envelope = parseOnFailureEnvelope(payload.value);
    if (!envelope) {
      notReplayable = 'AWS on-failure envelope without a readable record';
      envelopeCode ??= ON_FAILURE_ERROR_CODE;
      break;
    }
    const { original } = envelope;
    envelopes.push({
      condition: envelope.condition,
      approximateInvokeCount: envelope.approximateInvokeCount,
      timestamp: envelope.timestamp,
      ...(envelope.functionError === undefined ? {} : { functionError: envelope.functionError }),
      recordTopic: original.topic,
      recordPartition: original.partition,
      recordOffset: original.offset,
    });
    // the outermost envelope is the latest failure
    envelopeCode ??=
      envelope.condition === 'MaximumPayloadSizeExceeded'
        ? 'RECORD_TOO_LARGE'
        : (original.decodeError?.code ?? ON_FAILURE_ERROR_CODE);
    if (original.decodeError) {
      notReplayable = `the original record's bytes were never known (${original.decodeError.code})`;
      break;
    }
    payload = { key: original.key, value: original.value, headers: original.headers };
  }

  // the dead letter's own headers, or the innermost record's when it was wrapped
  const h = envelopes.length > 0 ? payload.headers : record.headers;
  if (notReplayable === undefined && payload.headers.has(DLQ_HEADERS.valueEncoding)) {
    notReplayable = `the value is not the bytes the producer wrote (${DLQ_HEADERS.valueEncoding}: ${lastHeaderText(payload.headers, DLQ_HEADERS.valueEncoding)})`;
  }
  const history = parseHistory(h);
  const headerCode = lastHeaderText(h, DLQ_HEADERS.errorCode);
  const codes = new Set<string>();
  for (const c of [envelopeCode, headerCode]) if (c) codes.add(c);
  for (const entry of history)
    if (isObject(entry) && typeof entry.code === 'string') codes.add(entry.code);

  const outer = envelopes[0];
  const inner = envelopes[envelopes.length - 1];
  const originalTopic = lastHeaderText(h, DLQ_HEADERS.originalTopic);
  const original: ParkedRecord['original'] =
    originalTopic !== undefined
      ? {
          topic: originalTopic,
          ...optionalNumber('partition', lastHeaderText(h, DLQ_HEADERS.originalPartition)),
          ...optional('offset', lastHeaderText(h, DLQ_HEADERS.originalOffset)),
          ...optional('timestamp', lastHeaderText(h, DLQ_HEADERS.originalTimestamp)),
        }
      : inner
        ? {
            topic: inner.recordTopic,
            partition: inner.recordPartition,
            offset: String(inner.recordOffset),
          }
        : {};

  const replayId = lastHeaderText(payload.headers, REPLAY_HEADERS.replayId);
  const replayedAt = lastHeaderText(payload.headers, REPLAY_HEADERS.replayedAt);
  const replayedFrom = lastHeaderText(payload.headers, REPLAY_HEADERS.replayedFrom);
  const orderId = orderIdOf(payload.key, payload.value);

  const parked: ParkedRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    codes: [...codes],
    original,
    history,
    envelopes,
    payload,
  };
  const errorCode = envelopeCode ?? headerCode;
  if (errorCode !== undefined) parked.errorCode = errorCode;
  const fields: Array<[keyof ParkedRecord, string | undefined]> = [
    ['errorMessage', lastHeaderText(h, DLQ_HEADERS.errorMessage)],
    ['firstFailedAt', lastHeaderText(h, DLQ_HEADERS.firstFailedAt)],
    ['failedAt', outer?.timestamp || lastHeaderText(h, DLQ_HEADERS.failedAt)],
    ['notBefore', lastHeaderText(h, DLQ_HEADERS.notBefore)],
    ['source', outer ? 'esm-on-failure' : lastHeaderText(h, DLQ_HEADERS.source)],
    ['orderId', orderId],
    ['notReplayable', notReplayable],
  ];
  for (const [name, value] of fields)
    if (value !== undefined) Object.assign(parked, { [name]: value });
  const attempts = attemptsOf(lastHeaderText(h, DLQ_HEADERS.attempts));
  if (attempts !== undefined) parked.attempts = attempts;
  if (replayId !== undefined || replayedAt !== undefined || replayedFrom !== undefined) {
    parked.replayedBefore = {
      ...optional('replayId', replayId),
      ...optional('replayedAt', replayedAt),
      ...optional('from', replayedFrom),
    };
  }
  return parked;
};

function optional<K extends string>(name: K, value: string | undefined) {
  return (value === undefined ? {} : { [name]: value }) as Partial<Record<K, string>>;
}

function optionalNumber<K extends string>(name: K, value: string | undefined) {
  return (
    value !== undefined && /^\d{1,10}$/.test(value) ? { [name]: Number(value) } : {}
  ) as Partial<Record<K, number>>;
}

/** `<topic>:<partition>:<offset>`: how the tool names a stored record. */
export const coordinateOf = (r: { topic: string; partition: number; offset: string }) =>
  `${r.topic}:${r.partition}:${r.offset}`;

/** What an operator selects records with; every given criterion must hold. */
export interface ParkedFilter {
  /** Any code in the record's story (see {@link ParkedRecord.codes}). */
  codes?: readonly string[];
  /** The topic the record was first read from. */
  originalTopics?: readonly string[];
  orderIds?: readonly string[];
  /** Written to the parking lot or DLQ at or after this time. */
  since?: Date;
  /** ... and before this time. */
  until?: Date;
  /** Explicit `<topic>:<partition>:<offset>` list. */
  coordinates?: ReadonlySet<string>;
}

/**
 * Whether a record passes the filter. Pure.
 *
 * @example
 * matchesFilter(parked, { codes: ['SCHEMA_VIOLATION'], since: new Date('2026-01-01') })
 */
export const matchesFilter = (r: ParkedRecord, f: ParkedFilter): boolean => {
  if (f.coordinates && !f.coordinates.has(coordinateOf(r))) return false;
  if (f.codes?.length && !r.codes.some((c) => f.codes!.includes(c))) return false;
  if (f.originalTopics?.length && !f.originalTopics.includes(r.original.topic ?? '')) return false;
  if (f.orderIds?.length) {
    const key = r.payload.key === null ? undefined : decodeText(r.payload.key);
    if (!f.orderIds.some((id) => id === r.orderId || id === key)) return false;
  }
  if (f.since && r.timestamp < f.since.getTime()) return false;
  if (f.until && r.timestamp >= f.until.getTime()) return false;
  return true;
};

/**
 * The message a replay writes for a parked record: its original key, value and
 * headers (unwrapped from any AWS on-failure envelope), its `x-dlq-*` failure state
 * removed so processOrders and republishDlq see a first attempt (the history stays),
 * and the replay headers. No partition (the key decides, as for the producer) and no
 * timestamp (a fresh one). Pure.
 *
 * @example
 * replayMessage(parked, { topic: 'orders', replayId: 'fix-1234', now: new Date() })
 */
export const replayMessage = (
  r: ParkedRecord,
  options: { topic: string; replayId: string; now: Date },
): OutboundMessage => {
  const kept: HeaderMap = new Map();
  for (const [name, values] of r.payload.headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-dlq-') && !KEPT_DLQ_HEADERS.has(lower)) continue;
    kept.set(name, values);
  }
  const headers = toOutboundHeaders(kept);
  headers[REPLAY_HEADERS.replayedAt] = options.now.toISOString();
  headers[REPLAY_HEADERS.replayId] = options.replayId;
  headers[REPLAY_HEADERS.replayedFrom] = coordinateOf(r);
  return { topic: options.topic, key: r.payload.key, value: r.payload.value, headers };
};

/** Why a selected record is left out of a replay. */
export interface SkippedRecord {
  record: ParkedRecord;
  reason: string;
}

/** Identity of the record a dead letter stands for: the same record dead-lettered again is the same order. */
const originKey = (r: ParkedRecord) =>
  r.original.topic !== undefined && r.original.offset !== undefined
    ? `${r.original.topic}:${r.original.partition ?? '?'}:${r.original.offset}`
    : undefined;

/**
 * Splits selected records into those a replay writes and those it leaves out: not
 * replayable, or another copy of the same original record (a record dead-lettered
 * on each attempt appears once per attempt; only its latest copy is put back, or the
 * order would be sent twice). Keeps the order of `selected` for what it writes. Pure.
 */
export const planReplay = (
  selected: readonly ParkedRecord[],
  /** Coordinates earlier replays put back, and the replay id that did. */
  alreadyReplayed: ReadonlyMap<string, string> = new Map(),
): { replay: ParkedRecord[]; skipped: SkippedRecord[] } => {
  const latest = new Map<string, ParkedRecord>();
  const rank = (r: ParkedRecord) => [r.attempts ?? 0, r.timestamp] as const;
  for (const r of selected) {
    const k = originKey(r);
    if (k === undefined || r.notReplayable || alreadyReplayed.has(coordinateOf(r))) continue;
    const seen = latest.get(k);
    const [a, t] = rank(r);
    if (!seen || a > rank(seen)[0] || (a === rank(seen)[0] && t >= rank(seen)[1])) latest.set(k, r);
  }
  const replay: ParkedRecord[] = [];
  const skipped: SkippedRecord[] = [];
  for (const r of selected) {
    if (r.notReplayable) {
      skipped.push({ record: r, reason: r.notReplayable });
      continue;
    }
    const by = alreadyReplayed.get(coordinateOf(r));
    if (by !== undefined) {
      skipped.push({ record: r, reason: `already replayed by replay ${by}` });
      continue;
    }
    const k = originKey(r);
    const keep = k === undefined ? r : latest.get(k);
    if (keep === r) replay.push(r);
    else
      skipped.push({
        record: r,
        reason: `an earlier copy of the record ${k} (the replay puts back ${coordinateOf(keep!)})`,
      });
  }
  return { replay, skipped };
};

const REPLAY_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Checks an operator's replay id (it becomes part of a transactional id and a group id). */
export const parseReplayId = (text: string): string => {
  if (!REPLAY_ID.test(text))
    throw new Error(
      `replay id "${text}" must be 1 to 100 characters of letters, digits, '.', '_' or '-'`,
    );
  return text;
};

/**
 * Parses `<topic>:<partition>:<offset>`; `aliases` maps short names (`parking-lot`,
 * `dlq`) to the configured topics. Kafka topic names cannot hold ':'.
 */
export const parseCoordinate = (
  text: string,
  aliases: Readonly<Record<string, string>> = {},
): { topic: string; partition: number; offset: string } => {
  const m = /^([A-Za-z0-9._-]{1,249}):(\d{1,9}):(\d{1,19})$/.exec(text.trim());
  if (!m)
    throw new Error(`"${text}" is not <topic>:<partition>:<offset> (for example parking-lot:0:42)`);
  return { topic: aliases[m[1]!] ?? m[1]!, partition: Number(m[2]), offset: String(BigInt(m[3]!)) };
};

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a time for `--since` / `--until`: ISO-8601 (`2026-11-25T09:00:00Z`, a date
 * alone means its midnight UTC) or a duration ago (`90s`, `30m`, `2h`, `7d`).
 */
export const parseTime = (text: string, now: Date): Date => {
  const ago = /^(\d{1,9})([smhd])$/.exec(text.trim());
  if (ago)
    return new Date(now.getTime() - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const at = new Date(text.trim());
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new Error(
    `"${text}" is not a time: use ISO-8601 (2026-11-25T09:00:00Z) or a duration ago (30m, 2h, 7d)`,
  );
};
