/**
 * What the parking-lot tool prints: text for a person, or JSON for machines (bytes as
 * `{text}` when they are text, else `{base64}`). Pure: strings in, strings out.
 */
import type { HeaderMap } from '../../lib/events/types.ts';
import type { OutboundMessage, StoredRecord } from '../../lib/kafka/index.ts';
import {
  coordinateOf,
  type DisplayBytes,
  decodeText,
  displayBytes,
  type ParkedRecord,
} from './parked.ts';
import { markerCoordinates, type ReplayMarker } from './replayMarker.ts';
import type { ReadResult, ReplayResult } from './tool.ts';

const bytesOrNull = (b: Buffer | null): DisplayBytes | null =>
  b === null ? null : displayBytes(b);

/** Every header, in order, each value decoded for display. */
export const headersForDisplay = (
  headers: HeaderMap,
): Array<{ name: string; value: DisplayBytes }> =>
  [...headers].flatMap(([name, values]) => values.map((v) => ({ name, value: displayBytes(v) })));

/** A parked record as JSON-ready data. */
export const parkedToJson = (r: ParkedRecord) => {
  const { payload, ...rest } = r;
  return {
    ...rest,
    at: coordinateOf(r),
    writtenAt: new Date(r.timestamp).toISOString(),
    key: bytesOrNull(payload.key),
    value: bytesOrNull(payload.value),
    headers: headersForDisplay(payload.headers),
  };
};

const shown = (b: DisplayBytes) => ('text' in b ? b.text : `base64:${b.base64}`);

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

const origin = (r: ParkedRecord) => {
  const o = r.original;
  if (o.topic === undefined) return 'origin unknown';
  return `from ${o.topic}/${o.partition ?? '?'}@${o.offset ?? '?'}`;
};

const historyLine = (entry: unknown): string => {
  if (typeof entry !== 'object' || entry === null) return String(entry);
  const e = entry as Record<string, unknown>;
  return `#${e.attempt ?? '?'} ${e.code ?? '?'} at ${e.failedAt ?? '?'} on ${e.topic ?? '?'}/${e.partition ?? '?'}@${e.offset ?? '?'} (${e.source ?? '?'})`;
};

/** One record of `list`, in a few lines. */
const formatParkedLine = (r: ParkedRecord): string => {
  const head = [
    coordinateOf(r),
    new Date(r.timestamp).toISOString(),
    r.errorCode ?? 'NO-CODE',
    r.attempts === undefined ? undefined : `attempts ${r.attempts}`,
    r.orderId === undefined ? 'order ?' : `order ${r.orderId}`,
    origin(r),
    r.source,
  ]
    .filter(Boolean)
    .join('  ');
  const lines = [head];
  if (r.errorMessage) lines.push(`    error: ${clip(r.errorMessage, 160)}`);
  for (const e of r.envelopes)
    lines.push(
      `    AWS on-failure: ${e.condition} after ${e.approximateInvokeCount} invocation(s) at ${e.timestamp || '?'} (${e.recordTopic}/${e.recordPartition}@${e.recordOffset})`,
    );
  for (const h of r.history) lines.push(`    history ${historyLine(h)}`);
  if (r.replayedBefore)
    lines.push(
      `    replayed before: ${r.replayedBefore.replayId ?? '?'} at ${r.replayedBefore.replayedAt ?? '?'} from ${r.replayedBefore.from ?? '?'}`,
    );
  if (r.notReplayable) lines.push(`    not replayable: ${r.notReplayable}`);
  return lines.join('\n');
};

const incomplete = (result: Pick<ReadResult, 'complete' | 'unfinished'>) =>
  result.complete
    ? []
    : [
        `INCOMPLETE: stopped at the time limit before ${result.unfinished
          .map((u) => `${u.topic}/${u.partition} (at ${u.from} of ${u.to})`)
          .join(', ')}`,
      ];

/** The text of `list`. */
export const formatList = (result: ReadResult, limit?: number): string => {
  const shownRecords = limit === undefined ? result.records : result.records.slice(0, limit);
  const lines = shownRecords.map(formatParkedLine);
  const more = result.records.length - shownRecords.length;
  lines.push(
    `${result.records.length} record(s) matched of ${result.scanned} read${more > 0 ? ` (${more} not shown: --limit)` : ''}`,
    ...incomplete(result),
  );
  return lines.join('\n');
};

/** The text of `show`: every header decoded, the value pretty-printed when it is JSON. */
export const formatShow = (stored: StoredRecord, parked: ParkedRecord): string => {
  const lines = [
    `record    ${coordinateOf(stored)}`,
    `written   ${new Date(stored.timestamp).toISOString()}`,
    `key       ${stored.key === null ? '(null)' : shown(displayBytes(stored.key))}`,
    'headers',
  ];
  for (const { name, value } of headersForDisplay(stored.headers)) {
    const text = shown(value);
    lines.push(`  ${name}: ${prettyIfJson(text, '    ')}`);
  }
  lines.push('value', indent(valueText(stored.value), '  '));
  if (parked.envelopes.length > 0) {
    lines.push(
      `original record inside ${parked.envelopes.length} AWS on-failure envelope(s)`,
      `  key: ${parked.payload.key === null ? '(null)' : shown(displayBytes(parked.payload.key))}`,
    );
    for (const { name, value } of headersForDisplay(parked.payload.headers))
      lines.push(`  header ${name}: ${shown(value)}`);
    lines.push('  value:', indent(valueText(parked.payload.value), '    '));
  }
  lines.push(
    `summary   ${formatParkedLine(parked).split('\n').join('\n          ')}`,
    parked.notReplayable ? '' : `replayable: yes (${describeReplayTarget(parked)})`,
  );
  return lines.filter((l) => l !== '').join('\n');
};

const describeReplayTarget = (p: ParkedRecord) =>
  p.envelopes.length > 0 ? 'the original record, not the envelope' : 'key, value and headers';

const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');

const prettyIfJson = (text: string, continuation: string): string => {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return text;
  try {
    return JSON.stringify(JSON.parse(t), null, 2).split('\n').join(`\n${continuation}`);
  } catch {
    return text;
  }
};

/** A value for display: pretty JSON, else its text, else base64. */
export const valueText = (value: Buffer | null): string => {
  if (value === null) return '(null)';
  const text = decodeText(value);
  if (text === undefined) return `base64:${value.toString('base64')}`;
  return prettyIfJson(text, '');
};

const markerLines = (m: ReplayMarker): string[] => {
  const coordinates = markerCoordinates(m);
  return [
    `  committed at ${m.at || '?'}: ${m.n} record(s) to ${m.to}${m.digest ? ` (selection ${m.digest})` : ''}`,
    ...(coordinates.length > 0
      ? coordinates.map((c) => `    ${c}`)
      : m.n > 0
        ? ['    (the list of records did not fit the marker)']
        : []),
  ];
};

const skippedLines = (result: { skipped: ReplayResult['skipped'] }) =>
  result.skipped.map((s) => `  skipped ${coordinateOf(s.record)}: ${s.reason}`);

const messageLine = (r: ParkedRecord, m?: OutboundMessage) =>
  `  ${coordinateOf(r)}  order ${r.orderId ?? '?'}  ${r.errorCode ?? 'NO-CODE'}${m ? ` -> ${m.topic}` : ''}${r.envelopes.length > 0 ? ' (unwrapped from AWS envelope)' : ''}`;

/** The text of `replay`. */
export const formatReplay = (result: ReplayResult, suggestedId: string): string => {
  if (result.status === 'already-done') {
    return [
      `replay ${result.replayId} was already done; nothing written.`,
      ...markerLines(result.marker),
      ...(result.notCovered === undefined
        ? ['  the selection now differs from what it replayed: a new --replay-id replays it']
        : result.notCovered.length > 0
          ? [
              `  ${result.notCovered.length} selected record(s) were not part of it; a new --replay-id replays them:`,
              ...result.notCovered.map((r) => `    ${coordinateOf(r)}`),
            ]
          : []),
    ].join('\n');
  }
  if (result.status === 'replayed') {
    if (result.replay.length === 0)
      return ['nothing to replay; nothing written.', ...skippedLines(result)].join('\n');
    return [
      `replayed ${result.replay.length} record(s) to ${result.marker.to} in one transaction (replay ${result.replayId})`,
      ...result.replay.map((r, i) => {
        const p = result.placed[i];
        return `${messageLine(r)} -> ${p ? `${p.topic}/${p.partition}@${p.offset}` : '?'}`;
      }),
      ...skippedLines(result),
    ].join('\n');
  }
  const id = result.replayId ?? suggestedId;
  return [
    result.replay.length === 0
      ? 'DRY RUN: nothing written. Nothing to replay.'
      : `DRY RUN: nothing written. Would replay ${result.replay.length} record(s) in one transaction:`,
    ...result.replay.map((r, i) => messageLine(r, result.messages[i])),
    ...skippedLines(result),
    ...(result.done
      ? [
          `replay ${id} is already done, a run with --yes would write nothing:`,
          ...markerLines(result.done),
        ]
      : result.replay.length > 0
        ? [`to act: the same command with --yes --replay-id ${id}`]
        : []),
  ].join('\n');
};

/** `replay` as JSON-ready data. */
export const replayToJson = (result: ReplayResult) => ({
  ...result,
  replay: result.replay.map(parkedToJson),
  skipped: result.skipped.map((s) => ({ at: coordinateOf(s.record), reason: s.reason })),
  ...('notCovered' in result
    ? { notCovered: result.notCovered?.map((r) => coordinateOf(r)) ?? null }
    : {}),
  ...('messages' in result
    ? {
        messages: result.messages.map((m) => ({
          topic: m.topic,
          key: typeof m.key === 'string' ? { text: m.key } : bytesOrNull(m.key),
          value: typeof m.value === 'string' ? { text: m.value } : bytesOrNull(m.value),
          headers: Object.entries(m.headers ?? {}).flatMap(([name, v]) =>
            (Array.isArray(v) ? v : [v]).map((one) => ({
              name,
              value: typeof one === 'string' ? { text: one } : displayBytes(one),
            })),
          ),
        })),
      }
    : {}),
});
